"""Smoke: the three consumers under ``examples/`` build in the lab's trixie chroot against the
native static ONNX Runtime with nothing but the distribution's own metadata (pkg-config, the
CMake package, ``ort-wrapper link-flags --format cargo``), run real models through the C API,
and print what the PyPI wheel computes for the same inputs.

Debian's cargo and rustc (and make, cmake, pkgconf) are installed into the chroot here, not in
the lab's package list, so the lab's build key does not change. A link failure fails with the
symbols the linker could not resolve.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import onnxruntime
import pytest

from ort_wrapper.errors import BuildError
from ort_wrapper.lab.chroot import install_command
from ort_wrapper.lab.pipeline import LabResult

import models
from helpers import LAB_VERSION, REPO, skip_loudly
from support.rust_consumers import (
    RELEASES,
    ChrootRunner,
    ConsumerBuildFailed,
    HostRunner,
    ToolchainMissing,
    build_and_run,
    prepare,
    rust_version,
    vendor_dir,
)

pytestmark = pytest.mark.lab

WORK = "/lab/consumers"
# the command each consumer needs -> the Debian package providing it
TOOLS = {
    "cargo": "cargo",
    "rustc": "rustc",
    "make": "make",
    "cmake": "cmake",
    "pkg-config": "pkgconf",
}
CHROOT_PATH = f"{WORK}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
MODELS = {"add": models.add_model(), "mlp": models.matmul_model()}
_UNRESOLVED = re.compile(r"undefined reference to [`'](.+?)'")
_OUTPUT = re.compile(r"^(\w+)=([-+0-9.e,a-z]*)$")


@pytest.fixture(scope="module")
def work(lab: LabResult) -> Path:
    """The consumers' folder in the chroot: the examples, the models, Debian's build tools and
    an ``ort-wrapper`` command (this checkout's package with its pure-Python dependencies)."""
    have = lab.chroot.host_path("/usr/bin")
    missing = [pkg for tool, pkg in TOOLS.items() if not (have / tool).exists()]
    if missing:
        try:
            lab.chroot.run(install_command(missing))
        except BuildError as exc:
            skip_loudly(f"installing {' '.join(missing)} in the chroot failed: {exc}")
    host = lab.chroot.host_path(WORK)
    shutil.rmtree(host, ignore_errors=True)
    shutil.copytree(REPO / "examples", host / "examples")
    import auditwheel
    import elftools

    for module in (elftools, auditwheel):
        folder = Path(module.__file__).parent
        shutil.copytree(folder, host / "py" / folder.name)
    shutil.copytree(
        REPO / "python/ort_wrapper",
        host / "py/ort_wrapper",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    tool = host / "bin/ort-wrapper"
    tool.parent.mkdir()
    tool.write_text(f'#!/bin/sh\nPYTHONPATH={WORK}/py exec python3 -m ort_wrapper.cli "$@"\n')
    tool.chmod(0o755)
    for name, model in MODELS.items():
        models.save(model, host / f"{name}.onnx")
    return host


def _inputs(path: Path) -> dict[str, np.ndarray]:
    """The feeds the examples make: every float input filled with 0, 0.1, ..., 0.9, 0, ..."""
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {}
    for arg in session.get_inputs():
        shape = [d if isinstance(d, int) and d > 0 else 1 for d in arg.shape]
        count = int(np.prod(shape))
        feeds[arg.name] = (np.arange(count) % 10 / np.float32(10)).astype(np.float32).reshape(shape)
    return feeds


def _expected(path: Path) -> dict[str, np.ndarray]:
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    outputs = session.run(None, _inputs(path))
    return {o.name: v.ravel() for o, v in zip(session.get_outputs(), outputs, strict=True)}


def _variables(lab: LabResult) -> dict[str, str]:
    """What ``ort-wrapper env DIST --json`` says inside the chroot."""
    lines: list[str] = []
    command = [f"{WORK}/bin/ort-wrapper", "env", lab.dist_inside, "--json"]
    lab.chroot.run(command, env={"PATH": CHROOT_PATH}, on_line=lines.append)
    variables = json.loads("".join(lines))["variables"]
    assert variables["ORT_LIB_LOCATION"] == f"{lab.dist_inside}/lib"
    return variables


def _environment(lab: LabResult) -> dict[str, str]:
    """The variables of ``ort-wrapper env`` and the chroot's PATH, nothing else."""
    return {"PATH": CHROOT_PATH, **_variables(lab)}


def _unresolved(log: Path) -> list[str]:
    return sorted(set(_UNRESOLVED.findall(log.read_text(errors="replace"))))


def _build(lab: LabResult, argv: list[str], cwd: str, log: Path) -> None:
    """Run a build step in the chroot; a link failure names the unresolved symbols."""
    try:
        lab.chroot.run(argv, cwd=cwd, env=_environment(lab), log_file=log)
    except BuildError as exc:
        symbols = _unresolved(log)
        if symbols:
            shown = "\n  ".join(symbols[:40])
            pytest.fail(f"{argv[0]}: {len(symbols)} unresolved symbols:\n  {shown}")
        pytest.fail(str(exc))


def _run(lab: LabResult, program: str, cwd: str) -> None:
    """Run ``program`` on each model and compare its printed outputs with the wheel's."""
    for name in MODELS:
        lines: list[str] = []
        lab.chroot.run([program, f"{WORK}/{name}.onnx"], cwd=cwd, on_line=lines.append)
        assert f"onnxruntime {LAB_VERSION}\n" in lines, lines[-5:]
        printed = {
            m[1]: np.array([float(v) for v in m[2].split(",")], dtype=np.float32)
            for m in map(_OUTPUT.match, lines)
            if m
        }
        expected = _expected(lab.chroot.host_path(f"{WORK}/{name}.onnx"))
        assert printed.keys() == expected.keys()
        for key, values in expected.items():
            np.testing.assert_allclose(printed[key], values, rtol=1e-4, atol=1e-5)
        print(f"\n{program} {name}.onnx: {', '.join(f'{k}[{len(v)}]' for k, v in printed.items())}")


def test_c_with_pkg_config(lab: LabResult, work: Path, tmp_path: Path) -> None:
    cwd = f"{WORK}/examples/c"
    _build(lab, ["make"], cwd, tmp_path / "c.log")
    _run(lab, "./run_model", cwd)


def test_cpp_with_find_package(lab: LabResult, work: Path, tmp_path: Path) -> None:
    cwd = f"{WORK}/examples/cpp"
    log = tmp_path / "cpp.log"
    configure = ["cmake", "-S", ".", "-B", "build", f"-DCMAKE_PREFIX_PATH={lab.dist_inside}"]
    _build(lab, configure, cwd, log)
    _build(lab, ["cmake", "--build", "build"], cwd, log)
    _run(lab, "./build/run_model", cwd)


def test_rust_with_link_flags_in_build_rs(lab: LabResult, work: Path, tmp_path: Path) -> None:
    cwd = f"{WORK}/examples/rust"
    _build(lab, ["cargo", "build", "--offline"], cwd, tmp_path / "rust.log")
    _run(lab, "./target/debug/run-model", cwd)


def test_pkg_config_libs_alone_link_it(lab: LabResult, work: Path, tmp_path: Path) -> None:
    """``pkg-config --libs`` without ``--static`` (what the ``ort`` crate asks) is enough: the
    archive holds ORT's dependencies and the .pc's Libs carry the C++ runtime."""
    cwd = f"{WORK}/examples/c"
    line = "cc run_model.c $(pkg-config --cflags --libs libonnxruntime) -o plain_libs"
    _build(lab, ["sh", "-c", line], cwd, tmp_path / "plain.log")
    _run(lab, "./plain_libs", cwd)


def test_the_archive_and_the_cxx_runtime_alone_link_it(
    lab: LabResult, work: Path, tmp_path: Path
) -> None:
    """What the ``ort`` crate links when it finds ``libonnxruntime.a`` in ORT_LIB_LOCATION: that
    archive and ``-lstdc++``, with what rustc's standard library links anyway (libm among
    them; a C program names it), nothing else (a PIE, as cc and rustc make by default)."""
    cwd = f"{WORK}/examples/c"
    line = (
        "cc -pie run_model.c $(pkg-config --cflags libonnxruntime) "
        '"$ORT_LIB_LOCATION/libonnxruntime.a" -lstdc++ -lm -o archive_alone'
    )
    _build(lab, ["sh", "-c", line], cwd, tmp_path / "alone.log")
    _run(lab, "./archive_alone", cwd)


def test_link_check_raises_no_false_alarm_on_the_examples(
    lab: LabResult, work: Path, tmp_path: Path
) -> None:
    """``ort-wrapper link-check`` (issue 25) on what the three consumers above really link with
    the static build (their objects, cargo's deps folder) predicts no failure: the links it
    judges are the ones that succeed in the tests above."""
    log = tmp_path / "objects.log"
    compiles = (("c", "cc", "run_model.c"), ("cpp", "c++ -std=c++17", "run_model.cpp"))
    for folder, compiler, source in compiles:
        line = f"{compiler} -c $(pkg-config --cflags libonnxruntime) {source} -o run_model.o"
        _build(lab, ["sh", "-c", line], f"{WORK}/examples/{folder}", log)
    _build(lab, ["cargo", "build", "--offline"], f"{WORK}/examples/rust", log)
    lines: list[str] = []
    inputs = ["c/run_model.o", "cpp/run_model.o", "rust/target/debug/deps"]
    argv = [f"{WORK}/bin/ort-wrapper", "link-check", "--dist", lab.dist_inside, "--output", "pie"]
    try:
        lab.chroot.run(
            [*argv, *(f"{WORK}/examples/{i}" for i in inputs)],
            cwd=WORK,
            env=_environment(lab),
            on_line=lines.append,
        )
    except BuildError:
        pytest.fail("link-check predicted a failure for links that succeed:\n" + "".join(lines))
    print("\n" + "".join(lines[-15:]))


# The real ort-sys: rc.10 asks pkg-config first (and ignores this 1.21 build's .pc as older than
# its API 22 bindings, so it takes ORT_LIB_LOCATION), rc.13 with its pkg-config feature off and
# on, and the seed's way (ort-sys's `disable-linking`, link-flags printed by build.rs).
RUST_CASES = [
    ("rc.10", ()),
    ("rc.13", ()),
    ("rc.13", ("ort-sys/pkg-config",)),
    ("rc.13", ("seed",)),
]


def _chroot_runner(lab: LabResult, release: str) -> ChrootRunner:
    """The host's Rust toolchain mounted in the chroot (trixie's cargo 1.85 is older than
    rc.13 needs); skipped loudly without it or without the vendored crates."""
    vendor = vendor_dir()
    if vendor is None:
        skip_loudly("no shared/vendor/crates beside this checkout (the real ort-sys sources)")
    try:
        host = HostRunner.find(rust_version(vendor / RELEASES[release]))
    except ToolchainMissing as exc:
        skip_loudly(f"ort-sys {release}: {exc}")
        raise
    return ChrootRunner(lab.chroot, toolchain=host.sysroot())


@pytest.mark.parametrize(("release", "features"), RUST_CASES)
def test_the_real_ort_crate_links_the_static_build_and_runs_models(
    lab: LabResult, work: Path, release: str, features: tuple[str, ...]
) -> None:
    """An application on the unmodified ort-sys, built by cargo with the variables of
    ``ort-wrapper env`` (pkg-config installed) and nothing else, runs two models and prints
    what the wheel computes."""
    runner = _chroot_runner(lab, release)
    name = "-".join(["rust", release, *(f.replace("/", "-") for f in features)])
    folder = prepare(lab.chroot.host_path(f"{WORK}/{name}"), release, features)
    env = {**_variables(lab), "ORT_WRAPPER": f"{WORK}/bin/ort-wrapper"}
    paths = {n: lab.chroot.host_path(f"{WORK}/{n}.onnx") for n in MODELS}
    try:
        runs = build_and_run(folder, release, env, features, paths, runner, folder / "consumer")
    except ConsumerBuildFailed as exc:
        pytest.fail(str(exc))
    for name, path in paths.items():
        assert runs[name].version == LAB_VERSION
        expected = _expected(path)
        assert runs[name].outputs.keys() == expected.keys()
        for key, values in expected.items():
            np.testing.assert_allclose(runs[name].outputs[key], values, rtol=1e-4, atol=1e-5)
    print(f"\nort-sys {release} {features}: api {runs['add'].api}, {sorted(runs)} ran")

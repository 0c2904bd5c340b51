"""Smoke: a Rust program on the real ``ort-sys`` of ``ort`` 2.0.0-rc.10 and rc.13 (its own build
script, offline, the ``pkg-config`` feature on and off) links a SHARED distribution with the
variables a consumer is given and nothing else, runs two real models through the C API and
prints what the PyPI wheel computes.

Distributions: the wheel's ``libonnxruntime.so.1.23.2`` as a plain library directory laid out
as a release tarball's ``lib/`` (the file, its SONAME link, the ``libonnxruntime.so`` link
``-lonnxruntime`` needs), and ``ort-wrapper bundle`` of the wheel. Controls: the wheel's own
``capi/`` has no ``libonnxruntime.so``, so nothing links it; rc.13 refuses a folder holding
only a shared library unless ``ORT_PREFER_DYNAMIC_LINK=1``.

``consumer_env`` is the one place the variables come from. Without a cargo new enough for a
release (rc.13: rust >= 1.88) or without ``shared/vendor/crates``, the tests skip loudly.
"""

from __future__ import annotations

import json
import subprocess
import tomllib
from pathlib import Path

import numpy as np
import onnxruntime
import pytest

from ort_wrapper.bundle.write import make_bundle

import models
from helpers import cli, skip_loudly
from support.bundles import cpu_package
from support.rust_consumers import (
    RELEASES,
    ConsumerBuildFailed,
    HostRunner,
    ModelRun,
    ToolchainMissing,
    build,
    cached_work,
    offline_manifest,
    run_models,
    rust_version,
    vendor_dir,
)

CORE = "libonnxruntime.so.1.23.2"
PKG_CONFIG = "ort-sys/pkg-config"
# release, cargo features, the C API the program asks a 1.23 library for
CASES = [
    ("rc.10", (), 22),  # bindings for API 22
    ("rc.13", (), 17),  # default feature api-17
    ("rc.13", (PKG_CONFIG,), 17),
]


def consumer_env(dist: Path) -> dict[str, str]:
    """What ``ort-wrapper env DIST --json`` gives a consumer of ``dist``, and nothing else."""
    done = cli("env", str(dist), "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["variables"]


@pytest.fixture(scope="module")
def model_paths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("models")
    return {
        "add": models.save(models.add_model(), folder / "add.onnx"),
        "mlp": models.save(models.matmul_model(), folder / "mlp.onnx"),
    }


def _expected(path: Path) -> dict[str, np.ndarray]:
    """The wheel's outputs for the program's inputs: 0, 0.1, ..., 0.9, 0, ... (dynamic dims 1)."""
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {}
    for arg in session.get_inputs():
        shape = [d if isinstance(d, int) and d > 0 else 1 for d in arg.shape]
        values = (np.arange(int(np.prod(shape))) % 10).astype(np.float32) / np.float32(10)
        feeds[arg.name] = values.reshape(shape)
    outputs = session.run(None, feeds)
    return {o.name: v.ravel() for o, v in zip(session.get_outputs(), outputs, strict=True)}


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel's core library as a release tarball's ``lib/`` holds it."""
    folder = tmp_path_factory.mktemp("plain")
    (folder / CORE).symlink_to(cpu_package() / "capi" / CORE)
    (folder / "libonnxruntime.so.1").symlink_to(CORE)
    (folder / "libonnxruntime.so").symlink_to("libonnxruntime.so.1")
    return folder


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``ort-wrapper bundle`` of the installed CPU wheel."""
    out = tmp_path_factory.mktemp("bundle") / "cpu"
    make_bundle(cpu_package(), out, quiet=True)
    return out


def _runner(release: str) -> HostRunner:
    vendor = vendor_dir()
    if vendor is None:
        skip_loudly("no shared/vendor/crates beside this checkout (the real ort-sys sources)")
    try:
        return HostRunner.find(rust_version(vendor / RELEASES[release]))
    except ToolchainMissing as exc:
        skip_loudly(f"ort-sys {release}: {exc}")
        raise


def _run(
    release: str, features: tuple[str, ...], env: dict[str, str], paths: dict[str, Path], out: Path
) -> dict[str, ModelRun]:
    """Build with ``env`` (a link failure fails naming the undefined symbols), run each model."""
    runner = _runner(release)
    try:
        binary = build(cached_work(release, features), release, env, features, runner, out)
    except ConsumerBuildFailed as exc:
        pytest.fail(str(exc))
    return run_models(binary, paths, env, runner)


@pytest.mark.parametrize("dist_name", ["plain", "bundle"])
@pytest.mark.parametrize(("release", "features", "api"), CASES)
def test_ort_sys_links_a_shared_distribution_and_runs_models(
    request: pytest.FixtureRequest, dist_name: str, release: str, features: tuple[str, ...],
    api: int, model_paths: dict[str, Path], tmp_path: Path,
) -> None:  # fmt: skip
    dist = request.getfixturevalue(dist_name)
    env = consumer_env(dist)
    runs = _run(release, features, env, model_paths, tmp_path / "ort-sys-consumer")
    for name, path in model_paths.items():
        run = runs[name]
        assert (run.version, run.api) == ("1.23.2", api)
        expected = _expected(path)
        assert run.outputs.keys() == expected.keys()
        for key, values in expected.items():
            np.testing.assert_allclose(run.outputs[key], values, rtol=1e-5, atol=0)
        bitwise = all(np.array_equal(run.outputs[k], v) for k, v in expected.items())
        print(f"\n{release}{features} {dist_name} {name}: {list(run.outputs)} bitwise={bitwise}")


def test_control_the_wheels_own_folder_has_no_link_time_name(tmp_path: Path) -> None:
    """The wheel's ``capi/`` holds only ``libonnxruntime.so.1.23.2``: ``-lonnxruntime`` finds
    nothing there, which is why a bundle links the name."""
    capi = str(cpu_package() / "capi")
    env = {"ORT_LIB_LOCATION": capi, "ORT_PREFER_DYNAMIC_LINK": "1"}
    with pytest.raises(ConsumerBuildFailed) as caught:
        build(cached_work("rc.13"), "rc.13", env, (), _runner("rc.13"), tmp_path / "x")
    assert caught.value.missing_libraries == ["-lonnxruntime"], caught.value.log[-3000:]


def test_control_rc13_refuses_a_shared_only_folder_without_prefer_dynamic(
    plain: Path, tmp_path: Path
) -> None:
    """The same folder that links above, without ``ORT_PREFER_DYNAMIC_LINK``: rc.13 looks for
    static archives only and stops, so the variable is what makes it link."""
    env = {k: v for k, v in consumer_env(plain).items() if k != "ORT_PREFER_DYNAMIC_LINK"}
    with pytest.raises(ConsumerBuildFailed) as caught:
        build(cached_work("rc.13"), "rc.13", env, (), _runner("rc.13"), tmp_path / "x")
    assert any(
        "could not link to the ONNX Runtime build in" in e for e in caught.value.crate_errors
    )


def test_the_offline_copy_drops_only_download_dependencies() -> None:
    """The copied Cargo.toml of each release loses the optional download dependencies and the
    features naming them, keeps every other feature and points pkg-config at its copy."""
    vendor = vendor_dir()
    if vendor is None:
        skip_loudly("no shared/vendor/crates beside this checkout")
    for release, folder in RELEASES.items():
        text = (vendor / folder / "Cargo.toml").read_text()
        before, after = tomllib.loads(text), tomllib.loads(offline_manifest(text, "../pkg-config"))
        assert after["build-dependencies"] == {
            "pkg-config": {
                "path": "../pkg-config",
                **({"optional": True} if release == "rc.13" else {}),
            }
        }
        gone = set(before["features"]) - set(after["features"])
        assert "download-binaries" in gone and "webgpu" in gone, release
        assert all(after["features"][f] == before["features"][f] for f in after["features"])
        assert {"disable-linking", "copy-dylibs", "cuda"} <= set(after["features"]), release


def test_a_link_failure_names_the_undefined_symbols(tmp_path: Path) -> None:
    """A static ``libonnxruntime.a`` whose ``OrtGetApiBase`` needs a symbol nothing defines (as
    an archive missing its dependencies would): the failure lists that symbol."""
    folder = tmp_path / "static"
    folder.mkdir()
    (tmp_path / "ort.c").write_text(
        "extern long ort_wrapper_missing_dependency(void);\n"
        "const void *OrtGetApiBase(void) {\n"
        "    return (const void *)ort_wrapper_missing_dependency();\n"
        "}\n"
    )
    subprocess.run(
        ["cc", "-c", "-fPIC", str(tmp_path / "ort.c"), "-o", str(tmp_path / "ort.o")], check=True
    )
    subprocess.run(
        ["ar", "rcs", str(folder / "libonnxruntime.a"), str(tmp_path / "ort.o")], check=True
    )
    for release in RELEASES:
        env = {"ORT_LIB_LOCATION": str(folder)}
        with pytest.raises(ConsumerBuildFailed) as caught:
            build(cached_work(release), release, env, (), _runner(release), tmp_path / "x")
        assert caught.value.undefined == ["ort_wrapper_missing_dependency"], caught.value.log[
            -3000:
        ]
        assert "ort_wrapper_missing_dependency" in str(caught.value)

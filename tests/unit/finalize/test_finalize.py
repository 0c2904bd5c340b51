"""finalize on the miniature build: the new distribution links and runs, the inputs are never
modified, and the output is replaced whole or not at all."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import EXPECTED_OUTPUT, FakeBuild, link_and_run

from ort_wrapper.elf.archive import read_archive
from ort_wrapper.errors import BuildError, ElfError
from ort_wrapper.files import sha256_file
from ort_wrapper.finalize.stage import finalize
from ort_wrapper.manifest import load_manifest, substitute
from ort_wrapper.matrix import load_matrix

CPU = load_matrix().variant("cpu")


def _snapshot(root: Path) -> dict[str, tuple[str, int]]:
    return {
        str(p.relative_to(root)): (sha256_file(p), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _members(archive: Path) -> list[str]:
    return [m.name for m in read_archive(archive).members]


def test_static_distribution(fake_build: FakeBuild, tmp_path: Path) -> None:
    manifest = finalize(fake_build.prefix, fake_build.build_dir, CPU, fake_build.out, prune=True)
    assert load_manifest(fake_build.out) == manifest
    assert (manifest.version, manifest.variant, manifest.link_mode) == ("1.21.0", "cpu", "static")
    assert manifest.python_path is None
    assert manifest.include_dir == "include/onnxruntime/core/session"
    # every static dependency is absorbed: the archive and the C++ runtime are the whole link
    assert manifest.link_flags == (
        "${prefix}/lib/libonnxruntime.a",
        "-lstdc++",
        "-lm",
        "-ldl",
        "-lpthread",
    )
    assert manifest.extra["selfContained"] is True
    absorbed = {e["name"]: e["members"] for e in manifest.extra["absorbed"]}
    assert absorbed == {
        "onnx": 1,
        "protobuf": 1,
        "re2": 1,
        "absl_log": 1,
        "absl_strings": 1,
        "absl_base": 2,
        "absl_synchronization": 1,
    }
    members = _members(fake_build.out / "lib/libonnxruntime.a")
    assert "mutex.o" in members and "unused.o" not in members  # only what the link pulls
    # nothing else is copied: the components and the dependencies are inside the archive
    assert [p.name for p in (fake_build.out / "lib").glob("*.a")] == ["libonnxruntime.a"]
    for entry in manifest.files:
        assert sha256_file(fake_build.out / entry.path) == entry.sha256
    kinds = {e.path: (e.kind, e.role) for e in manifest.files}
    assert kinds["lib/libonnxruntime.a"] == ("archive", "core")
    assert kinds["lib/pkgconfig/libonnxruntime.pc"][0] == "pkgconfig"
    assert manifest.extra["abseil"]["discovered"] == 5
    assert manifest.extra["abseil"]["referenced"] == 4
    done = link_and_run(substitute(manifest.link_flags, fake_build.out), tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == EXPECTED_OUTPUT


def test_the_archive_links_alone_as_the_ort_crate_links_it(
    fake_build: FakeBuild, tmp_path: Path
) -> None:
    """The ``ort`` crate, finding ``libonnxruntime.a``, adds only the C++ runtime: that links.
    Control: ORT's component archives alone (what the archive held before) do not."""
    finalize(fake_build.prefix, fake_build.build_dir, CPU, fake_build.out, prune=True)
    done = link_and_run([str(fake_build.out / "lib/libonnxruntime.a"), "-lstdc++"], tmp_path)
    assert done.stdout.strip() == EXPECTED_OUTPUT, done.stderr
    components = [
        str(fake_build.archives[n]) for n in ("onnxruntime_session", "onnxruntime_framework")
    ]
    done = link_and_run(components, tmp_path)
    assert done.returncode != 0 and "undefined reference" in done.stderr


def test_pkg_config_links_it(fake_build: FakeBuild, tmp_path: Path) -> None:
    if shutil.which("pkg-config") is None:
        pytest.skip("pkg-config is not installed")
    finalize(fake_build.prefix, fake_build.build_dir, CPU, fake_build.out, prune=True)
    env = {**os.environ, "PKG_CONFIG_PATH": str(fake_build.out / "lib/pkgconfig")}
    query = ["pkg-config", "--static", "--libs", "--cflags", "libonnxruntime"]
    flags = subprocess.run(query, env=env, capture_output=True, text=True, check=True)
    done = link_and_run(flags.stdout.split(), tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == EXPECTED_OUTPUT


def test_without_pruning_every_member_is_absorbed(fake_build: FakeBuild, tmp_path: Path) -> None:
    manifest = finalize(fake_build.prefix, fake_build.build_dir, CPU, fake_build.out)
    assert "unused.o" in _members(fake_build.out / "lib/libonnxruntime.a")
    assert "absl_unused" in {e["name"] for e in manifest.extra["absorbed"]}
    assert manifest.extra["resolution"]["pruned"] is False
    done = link_and_run(substitute(manifest.link_flags, fake_build.out), tmp_path)
    assert done.stdout.strip() == EXPECTED_OUTPUT, done.stderr


def test_the_inputs_are_never_modified(fake_build: FakeBuild) -> None:
    root = fake_build.prefix.parent
    before = _snapshot(root)
    finalize(fake_build.prefix, fake_build.build_dir, CPU, fake_build.out, prune=True)
    after = _snapshot(root)
    assert {k: v for k, v in after.items() if not k.startswith("dist/")} == before
    assert sorted(p.name for p in root.iterdir()) == sorted(
        [*{k.split("/")[0] for k in before}, "dist"]
    )


def test_a_rerun_replaces_the_output(fake_build: FakeBuild, tmp_path: Path) -> None:
    """Idempotent: the same inputs give the same files; switching pruning on leaves out what
    the new link does not use (the output is written anew, nothing of the old one is kept)."""
    full = finalize(fake_build.prefix, fake_build.build_dir, CPU, fake_build.out)
    assert "unused.o" in _members(fake_build.out / "lib/libonnxruntime.a")
    pruned = finalize(fake_build.prefix, fake_build.build_dir, CPU, fake_build.out, prune=True)
    assert "unused.o" not in _members(fake_build.out / "lib/libonnxruntime.a")
    assert [f.path for f in pruned.files] == [f.path for f in full.files]
    hashes = {k: v[0] for k, v in _snapshot(fake_build.out).items()}
    again = finalize(fake_build.prefix, fake_build.build_dir, CPU, fake_build.out, prune=True)
    assert again == pruned and {k: v[0] for k, v in _snapshot(fake_build.out).items()} == hashes
    done = link_and_run(substitute(again.link_flags, fake_build.out), tmp_path)
    assert done.stdout.strip() == EXPECTED_OUTPUT, done.stderr
    assert [p.name for p in fake_build.out.parent.iterdir() if p.name.startswith(".")] == []


def test_a_failure_leaves_the_output_as_it_was(fake_build: FakeBuild) -> None:
    finalize(fake_build.prefix, fake_build.build_dir, CPU, fake_build.out, prune=True)
    before = _snapshot(fake_build.out)
    (fake_build.archives["re2"]).write_bytes(b"!<arch>\ngarbage")
    with pytest.raises(ElfError, match=r"libre2\.a: corrupt archive member header"):
        finalize(fake_build.prefix, fake_build.build_dir, CPU, fake_build.out, prune=True)
    assert _snapshot(fake_build.out) == before
    assert [p.name for p in fake_build.out.parent.iterdir() if p.name.startswith(".")] == []


def test_concurrent_runs_into_one_output_both_succeed(fake_build: FakeBuild) -> None:
    with ThreadPoolExecutor(2) as pool:
        runs = [
            pool.submit(
                finalize, fake_build.prefix, fake_build.build_dir, CPU, fake_build.out, prune=True
            )
            for _ in range(2)
        ]
        results = [r.result() for r in runs]
    assert results[0] == results[1] == load_manifest(fake_build.out)
    for entry in results[0].files:
        assert sha256_file(fake_build.out / entry.path) == entry.sha256
    assert [p.name for p in fake_build.out.parent.iterdir() if p.name.startswith(".")] == []


def test_an_output_that_is_not_a_distribution_is_refused(fake_build: FakeBuild) -> None:
    args = (fake_build.prefix, fake_build.build_dir, CPU)
    for inside in (fake_build.prefix, fake_build.prefix / "dist", fake_build.build_dir / "d"):
        with pytest.raises(BuildError, match=r"overlap \(one lies inside the other\)"):
            finalize(*args, inside)
    fake_build.out.mkdir()
    (fake_build.out / "notes.txt").write_text("mine")
    with pytest.raises(BuildError, match=r"is not empty and not an earlier distribution"):
        finalize(*args, fake_build.out)
    assert [p.name for p in fake_build.out.iterdir()] == ["notes.txt"]
    finalize(*args, fake_build.out / "dist")
    (fake_build.out / "dist/lib/notes.txt").write_text("mine too")
    with pytest.raises(BuildError, match=r"its manifest does not list .*lib/notes\.txt"):
        finalize(*args, fake_build.out / "dist")
    with pytest.raises(BuildError, match=r"exists and is not a directory"):
        finalize(*args, fake_build.out / "notes.txt")
    with pytest.raises(BuildError, match=r"parent directory .*/nowhere does not exist"):
        finalize(*args, fake_build.out / "nowhere/dist")


@pytest.mark.parametrize("link", ["../../../victim", "/etc/passwd"])
def test_a_symlink_that_leaves_the_prefix_is_refused(fake_build: FakeBuild, link: str) -> None:
    (fake_build.prefix / "lib/libevil.so").symlink_to(link)
    with pytest.raises(BuildError, match=r"the symlink .*libevil\.so"):
        finalize(fake_build.prefix, fake_build.build_dir, CPU, fake_build.out, prune=True)
    assert not fake_build.out.exists()


def test_a_fifo_in_the_prefix_is_refused_without_blocking(fake_build: FakeBuild) -> None:
    os.mkfifo(fake_build.prefix / "lib/pipe")
    with pytest.raises(BuildError, match=r"lib/pipe is not a file, a folder or a symlink"):
        finalize(fake_build.prefix, fake_build.build_dir, CPU, fake_build.out, prune=True)
    assert not fake_build.out.exists()


def test_errors_name_what_is_wrong(fake_build: FakeBuild, tmp_path: Path) -> None:
    with pytest.raises(BuildError, match=r"the build directory .*nowhere is not a directory"):
        finalize(fake_build.prefix, tmp_path / "nowhere", CPU, fake_build.out)
    (fake_build.build_dir / "CMakeCache.txt").unlink()
    with pytest.raises(BuildError, match=r"is not a CMake build tree: no CMakeCache\.txt"):
        finalize(fake_build.prefix, fake_build.build_dir, CPU, fake_build.out)


def _shared_object(path: Path, body: str = "int f(void) { return 1; }\n") -> None:
    src = path.with_suffix(".c")
    src.write_text(body)
    subprocess.run(["cc", "-shared", "-fPIC", str(src), "-o", str(path)], check=True)
    src.unlink()


def test_shared_variant_records_runtime_loaded_libraries(fake_build: FakeBuild) -> None:
    variant = load_matrix().variant("cuda-dyn")
    lib = fake_build.prefix / "lib"
    for path in lib.glob("*.a"):
        path.unlink()
    for name in ("libonnxruntime.so.1.21.0", "libonnxruntime_providers_shared.so"):
        _shared_object(lib / name)
    (lib / "libonnxruntime.so").symlink_to("libonnxruntime.so.1.21.0")
    with pytest.raises(BuildError, match=r"declares libonnxruntime_providers_cuda\.so"):
        finalize(fake_build.prefix, fake_build.build_dir, variant, fake_build.out)
    _shared_object(lib / "libonnxruntime_providers_cuda.so")
    package = fake_build.build_dir / "onnxruntime"
    (package / "capi").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    _shared_object(package / "capi" / "onnxruntime_pybind11_state.so")
    manifest = finalize(fake_build.prefix, fake_build.build_dir, variant, fake_build.out)
    assert manifest.link_mode == "shared"
    # the full path: linking works with or without the libonnxruntime.so development link
    assert manifest.link_flags == (
        "${prefix}/lib/libonnxruntime.so.1.21.0",
        "-Wl,-rpath,${prefix}/lib",
    )
    assert [(r.library, r.loaded_by) for r in manifest.runtime_loaded] == [
        ("lib/libonnxruntime_providers_shared.so", "lib/libonnxruntime.so"),
        ("lib/libonnxruntime_providers_cuda.so", "lib/libonnxruntime.so"),
    ]
    kinds = {e.path: (e.kind, e.role) for e in manifest.files}
    assert kinds["lib/libonnxruntime.so.1.21.0"] == ("shared", "core")
    assert kinds["lib/libonnxruntime_providers_cuda.so"] == ("shared", "provider")
    assert "lib/libonnxruntime.so" not in kinds  # a symlink, not a file of its own
    assert os.readlink(fake_build.out / "lib/libonnxruntime.so") == "libonnxruntime.so.1.21.0"
    pc = (fake_build.out / "lib/pkgconfig/libonnxruntime.pc").read_text()
    assert "Libs.private" not in pc and "(shared)" in pc
    assert json.loads((fake_build.out / "share/ort-wrapper/manifest.json").read_text())


def test_a_system_library_outside_the_default_path(fake_build: FakeBuild, tmp_path: Path) -> None:
    """As under Nix: a static dependency the build found in its own folder is absorbed too,
    recorded with its path, and the pkg-config file still links."""
    system = tmp_path / "store/re2/lib"
    system.mkdir(parents=True)
    re2 = fake_build.archives["re2"].rename(system / "libre2.a")
    cache = fake_build.build_dir / "CMakeCache.txt"
    cache.write_text(cache.read_text() + f"re2_LIBRARY:FILEPATH={re2}\n")
    manifest = finalize(fake_build.prefix, fake_build.build_dir, CPU, fake_build.out, prune=True)
    assert manifest.link_flags[0] == "${prefix}/lib/libonnxruntime.a"
    assert not [f for f in manifest.link_flags if f.startswith("-L") or "re2" in f]
    assert not (fake_build.out / "lib/libre2.a").exists()
    [entry] = [e for e in manifest.extra["absorbed"] if e["origin"] == "system"]
    assert entry == {
        "name": "re2",
        "origin": "system",
        "static": True,
        "path": str(re2),
        "members": 1,
        "sha256": sha256_file(re2),
    }
    pc = (fake_build.out / "lib/pkgconfig/libonnxruntime.pc").read_text()
    assert "libonnxruntime.a" not in pc
    done = link_and_run(substitute(manifest.link_flags, fake_build.out), tmp_path)
    assert done.stdout.strip() == EXPECTED_OUTPUT, done.stderr


def test_a_python_build_installs_its_module_and_loads(fake_build: FakeBuild) -> None:
    """cuda-dyn sets onnxruntime_ENABLE_PYTHON: finalize installs the package the build tree
    holds (laid out as ORT's cmake/onnxruntime_python.cmake assembles it; here the PyPI wheel's
    package, which has that layout) and a fresh process imports ONNX Runtime from the prefix."""
    import onnxruntime

    from ort_wrapper.bundle.write import make_bundle

    from helpers import run_fresh

    variant = load_matrix().variant("cuda-dyn")
    assert variant.cmake_flags["onnxruntime_ENABLE_PYTHON"] is True
    lib = fake_build.prefix / "lib"
    for path in lib.glob("*.a"):
        path.unlink()
    for name in (
        "libonnxruntime.so.1.23.2",
        "libonnxruntime_providers_shared.so",
        "libonnxruntime_providers_cuda.so",
    ):
        _shared_object(lib / name)
    (lib / "libonnxruntime.so").symlink_to("libonnxruntime.so.1.23.2")
    with pytest.raises(
        BuildError,
        match=r"sets onnxruntime_ENABLE_PYTHON but the build tree has "
        r"no Python package: expected .*/onnxruntime/__init__\.py",
    ):
        finalize(fake_build.prefix, fake_build.build_dir, variant, fake_build.out, version="1.23.2")
    shutil.copytree(
        Path(onnxruntime.__file__).parent,
        fake_build.build_dir / "onnxruntime",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    manifest = finalize(
        fake_build.prefix, fake_build.build_dir, variant, fake_build.out, version="1.23.2"
    )
    assert manifest.python_path == "lib/python"
    kinds = {e.path: e.kind for e in manifest.files}
    assert kinds["lib/python/onnxruntime/__init__.py"] == "python"
    [pybind] = [p for p in kinds if "onnxruntime_pybind11_state" in p]
    assert kinds[pybind] == "shared"
    # The flake's cuda-dyn output is this distribution put through the packaging step: both
    # load.
    bundle = make_bundle(fake_build.out, fake_build.out.parent / "bundle", quiet=True).root
    for dist in (fake_build.out, bundle):
        result = run_fresh(
            """
            import os, numpy as np, ort_wrapper as ow
            from ort_wrapper.runtime.probe import identity_model
            info = ow.init()
            assert ow.ort.__file__.startswith(os.environ["ORT_WRAPPER_DIST"]), ow.ort.__file__
            x = np.arange(4, dtype=np.float32)
            y = ow.SessionBuilder.from_bytes(identity_model()).build().run(x)["Y"]
            print(info.distribution.manifest.variant, y.tolist())
            """,
            env={"ORT_WRAPPER_DIST": str(dist), "LD_LIBRARY_PATH": None},
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["cuda-dyn", "[0.0,", "1.0,", "2.0,", "3.0]"]


def test_a_reduced_build_keeps_only_what_the_c_api_pulls_in(
    fake_build: FakeBuild, tmp_path: Path
) -> None:
    """The miniature's util.o members (session_util, framework_util) are reachable from no C
    entry point: a reduced build's archive leaves them out, links and runs the same, and its
    manifest records the reduction."""
    from ort_wrapper.elf.archive import read_archive
    from ort_wrapper.operators import Operator, OperatorConfig

    config = OperatorConfig.of([Operator("ai.onnx", 17, "Add")])
    full = finalize(fake_build.prefix, fake_build.build_dir, CPU, tmp_path / "full", prune=True)
    manifest = finalize(
        fake_build.prefix, fake_build.build_dir, CPU, fake_build.out, prune=True,
        reduced_for=config,
    )  # fmt: skip
    assert manifest.reduced_for == config and full.reduced_for is None

    def names(root: Path) -> list[str]:
        return sorted(m.name for m in read_archive(root / "lib/libonnxruntime.a").members)

    assert [n for n in names(tmp_path / "full") if "util" in n] != []
    assert [n for n in names(fake_build.out) if "util" in n] == []
    assert manifest.extra["resolution"]["membersLeftOut"] == 2
    assert manifest.link_flags == full.link_flags
    done = link_and_run(substitute(manifest.link_flags, fake_build.out), tmp_path)
    assert done.returncode == 0 and done.stdout.strip() == EXPECTED_OUTPUT, done.stderr

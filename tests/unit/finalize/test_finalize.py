"""finalize on the miniature build: the distribution links and runs, and finalize is
idempotent and atomic."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import EXPECTED_OUTPUT, FakeBuild, link_and_run

from ort_wrapper.errors import BuildError, ElfError
from ort_wrapper.files import sha256_file
from ort_wrapper.finalize import transaction
from ort_wrapper.finalize.linkflags import substitute
from ort_wrapper.finalize.stage import finalize
from ort_wrapper.manifest import load_manifest
from ort_wrapper.matrix import load_matrix

CPU = load_matrix().variant("cpu")


def _snapshot(root: Path) -> dict[str, tuple[str, int]]:
    return {
        str(p.relative_to(root)): (sha256_file(p), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_static_distribution(fake_build: FakeBuild, tmp_path: Path) -> None:
    manifest = finalize(fake_build.prefix, fake_build.build_dir, CPU, prune=True)
    assert load_manifest(fake_build.prefix) == manifest
    assert (manifest.version, manifest.variant, manifest.link_mode) == ("1.21.0", "cpu", "static")
    assert manifest.python_path is None
    assert manifest.include_dir == "include/onnxruntime/core/session"
    assert manifest.link_flags == (
        "${prefix}/lib/libonnxruntime.a",
        "${prefix}/lib/libonnx.a",
        "${prefix}/lib/libprotobuf.a",
        "${prefix}/lib/libabsl_log.a",
        "${prefix}/lib/libre2.a",
        "${prefix}/lib/libabsl_strings.a",
        "-Wl,--start-group",
        "${prefix}/lib/libabsl_base.a",
        "${prefix}/lib/libabsl_synchronization.a",
        "-Wl,--end-group",
        "-lstdc++",
        "-lm",
        "-ldl",
        "-lpthread",
    )
    # the components were merged away; every file is listed with its hash
    assert not list((fake_build.prefix / "lib").glob("libonnxruntime_*.a"))
    for entry in manifest.files:
        assert sha256_file(fake_build.prefix / entry.path) == entry.sha256
    kinds = {e.path: (e.kind, e.role) for e in manifest.files}
    assert kinds["lib/libonnxruntime.a"] == ("archive", "core")
    assert kinds["lib/libabsl_base.a"] == ("archive", "abseil")
    assert kinds["lib/libre2.a"] == ("archive", "dependency")
    assert kinds["lib/pkgconfig/libonnxruntime.pc"][0] == "pkgconfig"
    assert manifest.extra["abseil"]["discovered"] == 5
    assert manifest.extra["abseil"]["referenced"] == 4
    done = link_and_run(substitute(manifest.link_flags, fake_build.prefix), tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == EXPECTED_OUTPUT


def test_the_order_matters(fake_build: FakeBuild, tmp_path: Path) -> None:
    """Control: the same archives in name order, without a group, do not link."""
    manifest = finalize(fake_build.prefix, fake_build.build_dir, CPU, prune=True)
    archives = sorted(
        f for f in substitute(manifest.link_flags, fake_build.prefix) if f.endswith(".a")
    )
    done = link_and_run(archives, tmp_path)
    assert done.returncode != 0 and "undefined reference" in done.stderr


def test_pkg_config_links_it(fake_build: FakeBuild, tmp_path: Path) -> None:
    if shutil.which("pkg-config") is None:
        pytest.skip("pkg-config is not installed")
    finalize(fake_build.prefix, fake_build.build_dir, CPU, prune=True)
    env = {**os.environ, "PKG_CONFIG_PATH": str(fake_build.prefix / "lib/pkgconfig")}
    query = ["pkg-config", "--static", "--libs", "--cflags", "libonnxruntime"]
    flags = subprocess.run(query, env=env, capture_output=True, text=True, check=True)
    done = link_and_run(flags.stdout.split(), tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == EXPECTED_OUTPUT


def test_without_pruning_every_archive_is_linked(fake_build: FakeBuild, tmp_path: Path) -> None:
    manifest = finalize(fake_build.prefix, fake_build.build_dir, CPU)
    assert "${prefix}/lib/libabsl_unused.a" in manifest.link_flags
    assert manifest.extra["resolution"]["pruned"] is False
    done = link_and_run(substitute(manifest.link_flags, fake_build.prefix), tmp_path)
    assert done.stdout.strip() == EXPECTED_OUTPUT, done.stderr


def test_idempotent(fake_build: FakeBuild) -> None:
    finalize(fake_build.prefix, fake_build.build_dir, CPU, prune=True)
    before = _snapshot(fake_build.prefix)
    finalize(fake_build.prefix, fake_build.build_dir, CPU, prune=True)
    assert _snapshot(fake_build.prefix) == before


def test_a_failure_leaves_the_prefix_as_it_was(fake_build: FakeBuild) -> None:
    before = _snapshot(fake_build.prefix)
    (fake_build.archives["re2"]).write_bytes(b"!<arch>\ngarbage")
    with pytest.raises(ElfError, match=r"libre2\.a: corrupt archive member header"):
        finalize(fake_build.prefix, fake_build.build_dir, CPU, prune=True)
    assert _snapshot(fake_build.prefix) == before
    assert sorted(p.name for p in fake_build.prefix.iterdir()) == ["include", "lib"]


def test_a_failure_during_the_commit_is_rolled_back(
    fake_build: FakeBuild, monkeypatch: pytest.MonkeyPatch
) -> None:
    finalize(fake_build.prefix, fake_build.build_dir, CPU, prune=True)
    before = _snapshot(fake_build.prefix)
    calls = []
    real_replace = os.replace

    def failing_replace(src, dst) -> None:
        calls.append(dst)
        if len(calls) == 4:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(transaction.os, "replace", failing_replace)
    with pytest.raises(OSError, match="No space left"):
        finalize(fake_build.prefix, fake_build.build_dir, CPU, prune=False)  # changes files
    assert _snapshot(fake_build.prefix) == before


def test_errors_name_what_is_wrong(fake_build: FakeBuild, tmp_path: Path) -> None:
    with pytest.raises(BuildError, match=r"the build directory .*nowhere is not a directory"):
        finalize(fake_build.prefix, tmp_path / "nowhere", CPU)
    (fake_build.build_dir / "CMakeCache.txt").unlink()
    with pytest.raises(BuildError, match=r"is not a CMake build tree: no CMakeCache\.txt"):
        finalize(fake_build.prefix, fake_build.build_dir, CPU)


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
        finalize(fake_build.prefix, fake_build.build_dir, variant)
    _shared_object(lib / "libonnxruntime_providers_cuda.so")
    package = fake_build.build_dir / "onnxruntime"
    (package / "capi").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    _shared_object(package / "capi" / "onnxruntime_pybind11_state.so")
    manifest = finalize(fake_build.prefix, fake_build.build_dir, variant)
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
    pc = (fake_build.prefix / "lib/pkgconfig/libonnxruntime.pc").read_text()
    assert "Libs.private" not in pc and "(shared)" in pc
    assert json.loads((fake_build.prefix / "share/ort-wrapper/manifest.json").read_text())


def test_a_system_library_outside_the_default_path(fake_build: FakeBuild, tmp_path: Path) -> None:
    """As under Nix: a dependency the build found in its own folder is recorded as a system
    library with ``-L`` (not copied), and the pkg-config file still links."""
    system = tmp_path / "store/re2/lib"
    system.mkdir(parents=True)
    re2 = fake_build.archives["re2"].rename(system / "libre2.a")
    cache = fake_build.build_dir / "CMakeCache.txt"
    cache.write_text(cache.read_text() + f"re2_LIBRARY:FILEPATH={re2}\n")
    manifest = finalize(fake_build.prefix, fake_build.build_dir, CPU, prune=True)
    assert manifest.link_flags[:2] == (f"-L{system}", "${prefix}/lib/libonnxruntime.a")
    assert "-l:libre2.a" in manifest.link_flags
    assert not (fake_build.prefix / "lib/libre2.a").exists()
    [entry] = manifest.extra["systemLibraries"]
    assert entry == {"name": "re2", "path": str(re2), "static": True, "sha256": sha256_file(re2)}
    pc = (fake_build.prefix / "lib/pkgconfig/libonnxruntime.pc").read_text()
    assert "libonnxruntime.a" not in pc
    done = link_and_run(substitute(manifest.link_flags, fake_build.prefix), tmp_path)
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
        finalize(fake_build.prefix, fake_build.build_dir, variant, version="1.23.2")
    shutil.copytree(
        Path(onnxruntime.__file__).parent,
        fake_build.build_dir / "onnxruntime",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    manifest = finalize(fake_build.prefix, fake_build.build_dir, variant, version="1.23.2")
    assert manifest.python_path == "lib/python"
    kinds = {e.path: e.kind for e in manifest.files}
    assert kinds["lib/python/onnxruntime/__init__.py"] == "python"
    [pybind] = [p for p in kinds if "onnxruntime_pybind11_state" in p]
    assert kinds[pybind] == "shared"
    before = _snapshot(fake_build.prefix)
    finalize(fake_build.prefix, fake_build.build_dir, variant, version="1.23.2")
    assert _snapshot(fake_build.prefix) == before  # idempotent with the package too
    # The flake's cuda-dyn output is this prefix put through the packaging step: both load.
    bundle = make_bundle(fake_build.prefix, fake_build.prefix.parent / "bundle", quiet=True).root
    for dist in (fake_build.prefix, bundle):
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


def test_a_rerun_keeps_components_an_earlier_run_merged_away(fake_build: FakeBuild) -> None:
    """A component installed only under lib/ is merged and removed by the first run; a rerun
    keeps the merged archive the manifest records instead of merging what is left."""
    (fake_build.build_dir / "libonnxruntime_session.a").unlink()  # only the installed copy
    first = finalize(fake_build.prefix, fake_build.build_dir, CPU, prune=True)
    names = [m["name"] for m in first.extra["mergedFrom"]]
    assert names == ["libonnxruntime_framework.a", "libonnxruntime_session.a"]
    assert all(len(m["sha256"]) == 64 for m in first.extra["mergedFrom"])
    assert not (fake_build.prefix / "lib/libonnxruntime_session.a").exists()
    before = _snapshot(fake_build.prefix)
    again = finalize(fake_build.prefix, fake_build.build_dir, CPU, prune=True)
    assert again == first
    assert _snapshot(fake_build.prefix) == before
    # the build tree's component changed: the old merge is stale and a new one would lack
    # the session component, so the rerun refuses and says what is missing
    shutil.copy2(fake_build.archives["re2"], fake_build.build_dir / "libonnxruntime_framework.a")
    with pytest.raises(BuildError, match=r"merged from libonnxruntime_session\.a, which are no"):
        finalize(fake_build.prefix, fake_build.build_dir, CPU, prune=True)
    assert _snapshot(fake_build.prefix) == before


def test_a_rerun_with_a_changed_merged_archive_is_refused(fake_build: FakeBuild) -> None:
    (fake_build.build_dir / "libonnxruntime_session.a").unlink()
    finalize(fake_build.prefix, fake_build.build_dir, CPU, prune=True)
    shutil.copy2(fake_build.archives["re2"], fake_build.prefix / "lib/libonnxruntime.a")
    with pytest.raises(BuildError, match=r"cmake --install"):
        finalize(fake_build.prefix, fake_build.build_dir, CPU, prune=True)


def test_scratch_folders_of_killed_runs_are_removed_not_listed(fake_build: FakeBuild) -> None:
    stale = fake_build.prefix / ".ort-wrapper-killed1/new/lib"
    stale.mkdir(parents=True)
    (stale / "libonnxruntime.a").write_bytes(b"half written")
    manifest = finalize(fake_build.prefix, fake_build.build_dir, CPU, prune=True)
    assert not [e.path for e in manifest.files if ".ort-wrapper" in e.path]
    assert not list(fake_build.prefix.glob(".ort-wrapper*"))  # nor is the lock file left


def test_concurrent_runs_take_turns(fake_build: FakeBuild, monkeypatch: pytest.MonkeyPatch) -> None:
    from ort_wrapper.finalize import stage as finalize_mod

    spans: list[tuple[float, float]] = []
    real = finalize_mod._static_link

    def slow(*args, **kwargs):
        start = time.monotonic()
        time.sleep(0.5)
        try:
            return real(*args, **kwargs)
        finally:
            spans.append((start, time.monotonic()))

    monkeypatch.setattr(finalize_mod, "_static_link", slow)
    with ThreadPoolExecutor(2) as pool:
        runs = [
            pool.submit(finalize, fake_build.prefix, fake_build.build_dir, CPU, prune=True)
            for _ in range(2)
        ]
        results = [r.result() for r in runs]
    assert results[0] == results[1] == load_manifest(fake_build.prefix)
    first, second = sorted(spans)
    assert first[1] <= second[0], "the two transactions overlapped"


def test_switching_pruning_on_removes_what_no_longer_links(
    fake_build: FakeBuild, tmp_path: Path
) -> None:
    lib = fake_build.prefix / "lib"
    full = finalize(fake_build.prefix, fake_build.build_dir, CPU)
    assert (lib / "libabsl_unused.a").is_file()
    assert "lib/libabsl_unused.a" in full.extra["copiedArchives"]
    pruned = finalize(fake_build.prefix, fake_build.build_dir, CPU, prune=True)
    assert not (lib / "libabsl_unused.a").exists()
    assert "lib/libabsl_unused.a" not in {e.path for e in pruned.files}
    assert sorted(p.name for p in lib.glob("*.a")) == sorted(
        f.rsplit("/", 1)[-1] for f in pruned.link_flags if f.endswith(".a")
    )
    done = link_and_run(substitute(pruned.link_flags, fake_build.prefix), tmp_path)
    assert done.stdout.strip() == EXPECTED_OUTPUT, done.stderr
    again = finalize(fake_build.prefix, fake_build.build_dir, CPU)
    assert (lib / "libabsl_unused.a").is_file() and again.link_flags == full.link_flags


def test_a_rebuilt_dependency_replaces_the_copy_an_earlier_run_made(
    fake_build: FakeBuild,
) -> None:
    """A copy finalize made under lib/ does not hide the build tree's archive on a rerun."""
    finalize(fake_build.prefix, fake_build.build_dir, CPU, prune=True)
    rebuilt = fake_build.archives["re2"]
    # stands for a copy older than the build tree's (rebuilt since): different bytes
    shutil.copy2(fake_build.archives["absl_unused"], fake_build.prefix / "lib/libre2.a")
    manifest = finalize(fake_build.prefix, fake_build.build_dir, CPU, prune=True)
    assert sha256_file(fake_build.prefix / "lib/libre2.a") == sha256_file(rebuilt)
    assert "${prefix}/lib/libre2.a" in manifest.link_flags

"""The native lab's parts that need no chroot: source pin and download, patch series, CMake
line and shims, the cache keys, the stashed build trees, the cache root."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ort_wrapper.errors import BuildError, LabEnvironmentError
from ort_wrapper.files import cache_root
from ort_wrapper.lab.chroot import Chroot
from ort_wrapper.lab.configure import SHIMS, cmake_configure_argv
from ort_wrapper.lab.keys import build_key, result_key, source_key
from ort_wrapper.lab.paths import INSIDE
from ort_wrapper.lab.source import OrtSource, fetch_source, known_source
from ort_wrapper.lab.source_patches import APPLIED, SKIPPED, apply_series, dry_run
from ort_wrapper.lab.trees import drop_older_results, read_stamp, reuse_build, write_stamp
from ort_wrapper.matrix import RuntimeLoaded, load_matrix


def test_the_pinned_source() -> None:
    source = known_source("1.21.0")
    assert source.suite == "trixie" and source.size == 37970624
    assert source.filename == "onnxruntime_1.21.0+dfsg.orig.tar.xz"
    with pytest.raises(
        BuildError, match=r"no pinned source for ONNX Runtime 9\.9\.9 \(known: 1\.21\.0"
    ):
        known_source("9.9.9")


@pytest.fixture
def mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A local HTTP server standing in for the Debian mirror."""
    root = tmp_path / "mirror"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("ORT_BUILDER_DEBIAN_MIRROR", f"http://127.0.0.1:{server.server_port}")
    yield root
    server.shutdown()


def _source(content: bytes, sha: str | None = None) -> OrtSource:
    digest = sha or hashlib.sha256(content).hexdigest()
    return OrtSource(
        "1.0.0", "trixie", "pool/main/o/ort/ort_1.0.0.orig.tar.xz", len(content), digest
    )


def test_download_is_verified(mirror: Path, tmp_path: Path) -> None:
    content = b"pretend tarball"
    (mirror / "pool/main/o/ort").mkdir(parents=True)
    (mirror / "pool/main/o/ort/ort_1.0.0.orig.tar.xz").write_bytes(content)
    got = fetch_source(_source(content), tmp_path / "dl")
    assert got.read_bytes() == content
    with pytest.raises(BuildError, match="does not match the pin"):
        fetch_source(_source(content, "0" * 64), tmp_path / "dl2")
    assert not list((tmp_path / "dl2").iterdir())


def test_a_download_never_writes_a_file_another_one_may_be_writing(
    mirror: Path, tmp_path: Path
) -> None:
    """Two processes fetching one tarball each write a file of their own (a fixed ``.part``
    name would let one truncate or rename the other's half-written download)."""
    content = b"pretend tarball"
    (mirror / "pool/main/o/ort").mkdir(parents=True)
    (mirror / "pool/main/o/ort/ort_1.0.0.orig.tar.xz").write_bytes(content)
    downloads = tmp_path / "dl"
    downloads.mkdir()
    others = downloads / "ort_1.0.0.orig.tar.xz.part"
    others.write_bytes(b"half of another download")
    got = fetch_source(_source(content), downloads)
    assert got.read_bytes() == content and got.stat().st_mode & 0o777 == 0o644
    assert others.read_bytes() == b"half of another download"
    assert sorted(p.name for p in downloads.iterdir()) == [got.name, others.name]


def test_an_unreachable_mirror_is_the_environments_fault(mirror: Path, tmp_path: Path) -> None:
    with pytest.raises(LabEnvironmentError, match=r"cannot download .*ort_1\.0\.0\.orig\.tar\.xz"):
        fetch_source(_source(b"x"), tmp_path / "dl")


def _tree(root: Path) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "src/a.txt").write_text("one\ntwo\nthree\n")
    return root


def _patch(path: Path, old: str, new: str) -> Path:
    path.write_text(
        "Header: what it fixes.\n--- a/src/a.txt\n+++ b/src/a.txt\n"
        f"@@ -1,3 +1,3 @@\n one\n-{old}\n+{new}\n three\n"
    )
    return path


def test_a_series_is_applied_where_it_applies(tmp_path: Path) -> None:
    tree = _tree(tmp_path / "tree")
    good = _patch(tmp_path / "0001-good.patch", "two", "TWO")
    stale = _patch(tmp_path / "0002-stale.patch", "deux", "DEUX")
    assert dry_run(tree, good).status == "applies"
    assert (tree / "src/a.txt").read_text() == "one\ntwo\nthree\n"  # a dry run changes nothing
    statuses = apply_series(tree, (good, stale))
    assert [s.status for s in statuses] == [APPLIED, SKIPPED]
    assert "Hunk #1 FAILED" in statuses[1].reason
    assert (tree / "src/a.txt").read_text() == "one\nTWO\nthree\n"


def test_a_patch_that_needs_fuzz_is_skipped(tmp_path: Path) -> None:
    """patch(1) would apply it with fuzz 1 (one context line differs): the lab does not, as
    the Nix derivation's prePatch check does not."""
    tree = _tree(tmp_path / "tree")
    (tree / "src/a.txt").write_text("one\ntwo\nthree, changed\n")
    fuzzy = _patch(tmp_path / "0001-fuzzy.patch", "two", "TWO")
    assert dry_run(tree, fuzzy).status == SKIPPED
    loose = subprocess.run(
        ["patch", "-p1", "--dry-run", "-d", str(tree), "-i", str(fuzzy)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert loose.returncode == 0 and "fuzz 1" in loose.stdout  # what plain patch would do


def test_the_cmake_line() -> None:
    matrix = load_matrix()
    argv = cmake_configure_argv(
        "/lab/src", "/lab/build", "/lab/install", "/lab/shims", matrix.cmake_flags("cpu")
    )
    assert argv[:7] == ["cmake", "-G", "Ninja", "-S", "/lab/src/cmake", "-B", "/lab/build"]
    for flag in (
        "-Donnxruntime_BUILD_SHARED_LIB=OFF",
        "-DFETCHCONTENT_FULLY_DISCONNECTED=ON",
        "-DFETCHCONTENT_TRY_FIND_PACKAGE_MODE=ALWAYS",
        "-DCMAKE_POLICY_DEFAULT_CMP0170=NEW",
        "-Donnxruntime_USE_FULL_PROTOBUF=ON",  # the lab's own: trixie's libonnx needs it
        "-Dre2_DIR=/lab/shims/re2",
        "-DProtobuf_DIR=/lab/shims/Protobuf",
        "-Deigen_DIR=/lab/shims/eigen",
        "-Dutf8_range_DIR=/lab/shims/utf8_range",
    ):
        assert flag in argv


def test_each_shim_is_a_package_config_named_after_its_folder() -> None:
    folders = sorted(d.name for d in SHIMS.iterdir() if d.is_dir())
    assert folders == ["Protobuf", "eigen", "re2", "utf8_range"]
    for name in folders:
        assert (SHIMS / name / f"{name}Config.cmake").is_file()


def test_the_key_follows_every_input(tmp_path: Path) -> None:
    """Each case changes exactly one input, so each input is shown to count on its own."""
    matrix = load_matrix()
    cpu = matrix.variant("cpu")
    source = known_source("1.21.0")
    patch = _patch(tmp_path / "0001.patch", "two", "TWO")
    key = build_key(matrix, cpu, source, (patch,))
    assert key == build_key(matrix, cpu, source, (patch,))
    changed = {
        "no patch": build_key(matrix, cpu, source, ()),
        "another variant": build_key(matrix, matrix.variant("cuda"), source, (patch,)),
        "a variant flag": build_key(
            matrix,
            dataclasses.replace(cpu, cmake_flags={**cpu.cmake_flags, "onnxruntime_X": True}),
            source,
            (patch,),
        ),
        "runtime_loaded": build_key(
            matrix,
            dataclasses.replace(cpu, runtime_loaded=(RuntimeLoaded("libx.so", "X", "liby.so"),)),
            source,
            (patch,),
        ),
        "a common flag": build_key(
            dataclasses.replace(
                matrix, common_cmake_flags={**matrix.common_cmake_flags, "onnxruntime_Y": "1"}
            ),
            cpu,
            source,
            (patch,),
        ),
        "the source pin": build_key(
            matrix, cpu, dataclasses.replace(source, pool=source.pool + "x"), (patch,)
        ),
        "the suite": build_key(matrix, cpu, dataclasses.replace(source, suite="forky"), (patch,)),
    }
    _patch(patch, "two", "2")
    changed["the patch's bytes"] = build_key(matrix, cpu, source, (patch,))
    assert key not in changed.values(), [k for k, v in changed.items() if v == key]
    assert len(set(changed.values())) == len(changed)


def test_the_result_key_follows_every_finalize_argument() -> None:
    args = {"version": "1.21.0", "sysroot": Path("/c/trixie"), "source": {"a": 1}, "prune": True}
    key = result_key("b" * 16, args)
    assert key == result_key("b" * 16, dict(args))
    assert key != result_key("c" * 16, args)
    for name, other in [
        ("prune", False),
        ("version", "1.21.1"),
        ("sysroot", Path("/c/forky")),
        ("source", {"a": 2}),
    ]:
        assert key != result_key("b" * 16, {**args, name: other}), name
    assert key != result_key("b" * 16, {**args, "lib_dirs": ["/opt/lib"]})


def test_cache_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ORT_BUILDER_CACHE", str(tmp_path / "c"))
    assert cache_root() == tmp_path / "c"
    monkeypatch.delenv("ORT_BUILDER_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg/onnxruntime-builder"


def test_one_result_is_kept_per_variant(tmp_path: Path) -> None:
    old, new = "cpu-" + "a" * 16, "cpu-" + "b" * 16
    others = ["cuda-dyn-" + "c" * 16, "cuda-" + "d" * 16, "cpu-notes"]
    for name in (old, new, *others):
        (tmp_path / name).mkdir()
        (tmp_path / f"{name}.json").write_text("{}")
    drop_older_results(tmp_path / new)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([new, f"{new}.json", *others, *(f"{o}.json" for o in others)])


def _finished_build(root: Chroot, key: str) -> None:
    """A build tree and its install as the lab leaves them: the stamp written last."""
    root.host_path(INSIDE.install).mkdir(parents=True)
    (root.host_path(INSIDE.install) / "lib.a").write_text(key)
    root.host_path(INSIDE.build).mkdir(parents=True)
    write_stamp(root.host_path(INSIDE.build), key)


def test_a_build_tree_for_another_key_is_stashed_and_put_back(tmp_path: Path) -> None:
    """Switching between a full and a reduced build moves the trees, never rebuilds one."""
    root = Chroot(tmp_path)
    _finished_build(root, "full")
    assert reuse_build(root, "full")
    assert not reuse_build(root, "reduced")  # full stashed, nothing left in place
    assert not root.host_path(INSIDE.build).exists()
    assert not root.host_path(INSIDE.install).exists()
    _finished_build(root, "reduced")
    assert reuse_build(root, "full")  # reduced stashed, full back in place
    assert (root.host_path(INSIDE.install) / "lib.a").read_text() == "full"
    assert read_stamp(root.host_path(INSIDE.build)) == "full"
    assert reuse_build(root, "reduced")
    assert (root.host_path(INSIDE.install) / "lib.a").read_text() == "reduced"
    assert sorted(p.name for p in root.host_path(INSIDE.trees).iterdir()) == ["full"]


def test_an_unfinished_build_tree_is_removed_not_stashed(tmp_path: Path) -> None:
    root = Chroot(tmp_path)
    root.host_path(INSIDE.build).mkdir(parents=True)  # killed before its stamp was written
    root.host_path(INSIDE.install).mkdir(parents=True)
    assert not reuse_build(root, "full")
    assert not root.host_path(INSIDE.build).exists()
    assert not root.host_path(INSIDE.trees).exists()


def test_the_source_key_follows_the_pin_and_the_series_only(tmp_path: Path) -> None:
    source = known_source("1.21.0")
    patch = _patch(tmp_path / "0001.patch", "two", "TWO")
    key = source_key(source, (patch,))
    assert key == source_key(dataclasses.replace(source, suite="forky"), (patch,))
    assert key != source_key(dataclasses.replace(source, sha256="0" * 64), (patch,))
    assert key != source_key(source, ())
    _patch(patch, "two", "2")
    assert key != source_key(source, (patch,))

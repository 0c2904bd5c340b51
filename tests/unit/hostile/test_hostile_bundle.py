"""Hostile distributions given to ``bundle``: nothing outside ``--out`` is written, the source is
never modified, and the answer is a BundleError naming the offending path or field."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ort_wrapper.bundle import BUNDLE_JSON_RELPATH
from ort_wrapper.bundle.write import make_bundle
from ort_wrapper.errors import BundleError

from support.bundles import small_elf
from support.hostile import (
    NO_DAC_OVERRIDE,
    assert_refused,
    changed,
    cli,
    limit_memory,
    replace_manifest,
    small_prefix,
    snapshot,
)

SECRET = "private: never copied, never emptied\n"


def _victim(tmp_path: Path) -> Path:
    victim = tmp_path / "victim.txt"
    victim.write_text(SECRET)
    victim.chmod(0o600)
    return victim


@pytest.mark.parametrize("how", ["absolute", "dotdot"])
def test_a_manifest_path_outside_the_source_is_refused(tmp_path: Path, how: str) -> None:
    victim = _victim(tmp_path)
    path = str(victim) if how == "absolute" else "../victim.txt"
    src = small_prefix(tmp_path / "src", [{"path": path, "kind": "data", "sha256": "0" * 64}])
    before = snapshot(tmp_path)
    with pytest.raises(BundleError, match=r"files\[1\]: path .*victim\.txt"):
        make_bundle(src, tmp_path / "out", quiet=True)
    assert changed(before, snapshot(tmp_path)) == []
    assert victim.read_text() == SECRET


def test_the_cli_refuses_it_without_a_traceback(run_cli, tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    entry = {"path": str(victim), "kind": "data", "sha256": "0" * 64}
    src = small_prefix(tmp_path / "src", [entry])
    before = snapshot(tmp_path)
    proc = run_cli("bundle", str(src), "--out", str(tmp_path / "B2"))
    assert_refused(proc, "files[1]", str(victim), "is absolute")
    assert changed(before, snapshot(tmp_path)) == []


def test_a_dt_needed_that_is_a_path_cannot_empty_a_file(tmp_path: Path) -> None:
    # found from the source's directory (src/../../victim.so) and, with the '..' kept, copied
    # to <out's temporary sibling>/lib/../../victim.so: the same file
    small_elf(tmp_path, "victim.so").chmod(0o600)
    src = tmp_path / "deep" / "src"
    small_elf(src, "libfoo.so", needed=("../../victim.so",))
    before = snapshot(tmp_path)
    with pytest.raises(BundleError, match=r"'\.\./\.\./victim\.so' \(NEEDED by .*libfoo\.so"):
        make_bundle(src, tmp_path / "out", quiet=True)
    assert changed(before, snapshot(tmp_path)) == []


@pytest.mark.parametrize("kind", ["prefix", "wheel"])
def test_a_symlink_leaving_the_source_is_refused(tmp_path: Path, kind: str) -> None:
    victim = _victim(tmp_path)
    if kind == "prefix":
        src = small_prefix(
            tmp_path / "src", [{"path": "share/notes.txt", "kind": "data", "sha256": "0" * 64}]
        )
        link = src / "share" / "notes.txt"
    else:  # an installed onnxruntime package, as bundle reads one
        src = tmp_path / "src"
        (src / "capi").mkdir(parents=True)
        (src / "__init__.py").write_text('__version__ = "1.23.2"\n')
        small_elf(src / "capi", "onnxruntime_pybind11_state.cpython-311-x86_64-linux-gnu.so")
        link = src / "capi" / "notes.txt"
    link.symlink_to(victim)
    before = snapshot(tmp_path)
    with pytest.raises(BundleError, match=rf"{link}.* leads outside {src} \(to {victim}\)"):
        make_bundle(src, tmp_path / "out", quiet=True)
    assert changed(before, snapshot(tmp_path)) == []


def test_an_out_that_merely_looks_like_a_bundle_is_not_deleted(tmp_path: Path) -> None:
    src = tmp_path / "src"
    small_elf(src, "libfoo.so")
    out = tmp_path / "mine"
    (out / "share/ort-wrapper").mkdir(parents=True)
    (out / BUNDLE_JSON_RELPATH).write_text("")
    (out / "thesis.tex").write_text("years of work\n")
    before = snapshot(tmp_path)
    with pytest.raises(BundleError, match=rf"--out {out} is not provably an earlier bundle"):
        make_bundle(src, out, quiet=True)
    assert changed(before, snapshot(tmp_path)) == []


def test_an_earlier_bundle_with_a_file_added_is_not_deleted(tmp_path: Path) -> None:
    src = tmp_path / "src"
    small_elf(src, "libfoo.so")
    out = tmp_path / "out"
    make_bundle(src, out, quiet=True)
    make_bundle(src, out, quiet=True)  # an unchanged earlier bundle is replaced
    (out / "lib" / "notes.txt").write_text("mine\n")
    before = snapshot(tmp_path)
    with pytest.raises(BundleError, match=r"notes\.txt is not a file an earlier bundle wrote"):
        make_bundle(src, out, quiet=True)
    (out / "lib" / "notes.txt").unlink()
    (out / "lib" / "libfoo.so").write_bytes(b"edited")
    with pytest.raises(BundleError, match=r"libfoo\.so was changed since the bundle was written"):
        make_bundle(src, out, quiet=True)
    assert changed(before, snapshot(tmp_path), "out/lib") == []


@pytest.mark.parametrize("where", ["inside", "inside-through-a-symlink"])
def test_an_out_inside_the_source_is_refused(tmp_path: Path, where: str) -> None:
    src = tmp_path / "src"
    small_elf(src, "libfoo.so")
    out = src / "bundle"
    if where == "inside-through-a-symlink":
        (tmp_path / "alias").symlink_to(src)
        out = tmp_path / "alias" / "bundle"
    before = snapshot(tmp_path)
    with pytest.raises(BundleError, match=r"overlap \(one lies inside the other\)"):
        make_bundle(src, out, quiet=True)
    assert changed(before, snapshot(tmp_path)) == []


def test_an_unwritable_out_names_the_out_not_a_temporary_file(tmp_path: Path) -> None:
    src = tmp_path / "src"
    small_elf(src, "libfoo.so")
    parent = tmp_path / "locked"
    parent.mkdir(mode=0o555)
    proc = cli("bundle", str(src), "--out", str(parent / "B"), prefix=NO_DAC_OVERRIDE)
    assert_refused(proc, f"--out {parent / 'B'}", "Permission denied")
    assert ".tmp-" not in proc.stderr, proc.stderr
    assert list(parent.iterdir()) == []


@pytest.mark.parametrize("hostile", ["deep", "fifo", "device"])
def test_an_unreadable_manifest_is_a_clear_error(tmp_path: Path, hostile: str) -> None:
    src = small_prefix(tmp_path / "src")
    manifest = replace_manifest(src, hostile)
    before = snapshot(tmp_path)
    out = str(tmp_path / "out")
    proc = cli("bundle", str(src), "--out", out, timeout=60, preexec_fn=limit_memory)
    why = {"deep": "is nested too deeply", "fifo": "is not a regular file"}.get(
        hostile,
        f"leads outside {src}",  # a symlink to /dev/zero leads out of the distribution
    )
    assert_refused(proc, f"{manifest} {why}")
    assert changed(before, snapshot(tmp_path)) == []


def test_a_bundle_of_a_bundle_still_works(tmp_path: Path) -> None:
    """The checks above refuse hostile input only: a bundle re-bundled elsewhere is fine."""
    src = tmp_path / "src"
    small_elf(src, "libfoo.so")
    make_bundle(src, tmp_path / "one", quiet=True)
    shutil.copytree(tmp_path / "one", tmp_path / "copy")
    result = make_bundle(tmp_path / "copy", tmp_path / "two", quiet=True)
    first = json.loads((tmp_path / "one" / BUNDLE_JSON_RELPATH).read_text())
    assert result.files == len(first["files"])


def test_an_unreadable_library_is_named_not_skipped(tmp_path: Path) -> None:
    src = tmp_path / "src"
    small_elf(src, "libfoo.so")
    small_elf(src, "libbar.so").chmod(0)
    proc = cli("bundle", str(src), "--out", str(tmp_path / "out"), prefix=NO_DAC_OVERRIDE)
    assert_refused(proc, f"{src / 'libbar.so'}: permission denied")
    assert not (tmp_path / "out").exists()

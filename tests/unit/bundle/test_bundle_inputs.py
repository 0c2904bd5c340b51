"""Bad inputs give a typed error naming what is wrong, and write nothing to --out."""

from __future__ import annotations

from pathlib import Path

import pytest

from ort_wrapper.bundle.write import make_bundle
from ort_wrapper.errors import BundleError

from support.bundles import small_elf


def _nothing_written(out: Path) -> None:
    assert not out.exists()
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}")] == []


def test_missing_source(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(BundleError, match=r"nope: no such file or directory"):
        make_bundle(tmp_path / "nope", out, quiet=True)
    _nothing_written(out)


def test_source_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(BundleError, match=r"file\.txt is a file; expected a directory"):
        make_bundle(tmp_path / "file.txt", tmp_path / "out", quiet=True)
    _nothing_written(tmp_path / "out")


def test_no_elf_files(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "README").write_text("no libraries here\n")
    (src / "fake.so").write_bytes(b"not an ELF file")
    with pytest.raises(BundleError, match=r"src holds no ELF files"):
        make_bundle(src, tmp_path / "out", quiet=True)
    _nothing_written(tmp_path / "out")


def test_library_found_nowhere_lists_every_missing_soname(tmp_path: Path) -> None:
    src = tmp_path / "src"
    small_elf(src, "libfirst.so.1", needed=("libort_wrapper_absent_a.so.7",))
    small_elf(src, "libsecond.so.1", needed=("libort_wrapper_absent_b.so.3",))
    out = tmp_path / "out"
    with pytest.raises(BundleError) as err:
        make_bundle(src, out, search_dirs=[tmp_path], quiet=True)
    text = str(err.value)
    assert "2 needed libraries are not found anywhere" in text
    assert "libort_wrapper_absent_a.so.7 (needed by libfirst.so.1" in text
    assert "libort_wrapper_absent_b.so.3 (needed by libsecond.so.1" in text
    assert f"--search-dir: {tmp_path}" in text
    assert "nothing was written" in text
    _nothing_written(out)


def test_unknown_search_dir_and_provider(tmp_path: Path) -> None:
    src = tmp_path / "src"
    small_elf(src, "libfirst.so.1")
    with pytest.raises(BundleError, match=r"--search-dir .*/missing-dir: no such directory"):
        make_bundle(src, tmp_path / "out", search_dirs=[tmp_path / "missing-dir"], quiet=True)
    with pytest.raises(BundleError, match=r"unknown execution provider 'warp-drive'"):
        make_bundle(src, tmp_path / "out", providers=["warp-drive"], quiet=True)
    _nothing_written(tmp_path / "out")


def test_out_that_is_not_a_bundle_is_left_alone(tmp_path: Path) -> None:
    src = tmp_path / "src"
    small_elf(src, "libfirst.so.1")
    out = tmp_path / "precious"
    out.mkdir()
    (out / "thesis.tex").write_text("do not delete\n")
    with pytest.raises(BundleError, match=r"is not empty and is not a bundle"):
        make_bundle(src, out, quiet=True)
    assert [p.name for p in out.iterdir()] == ["thesis.tex"]


def test_cli_reports_the_error_without_a_traceback(tmp_path: Path, run_cli) -> None:
    src = tmp_path / "src"
    small_elf(src, "libfirst.so.1", needed=("libort_wrapper_absent_a.so.7",))
    proc = run_cli("bundle", str(src), "--out", str(tmp_path / "o"))
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith("ort-wrapper bundle: error: cannot bundle")
    assert "libort_wrapper_absent_a.so.7" in proc.stderr
    assert "Traceback" not in proc.stderr
    _nothing_written(tmp_path / "o")

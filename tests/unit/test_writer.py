"""The one writer of ``ort_wrapper.files``, over arbitrary names, modes and umasks: it writes
exactly the file named (or refuses the name before writing), never over an input, never wider
than the source or the umask, and leaves no temporary file behind."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import ort_wrapper.files as files
from ort_wrapper.errors import BundleError
from ort_wrapper.files import (
    atomic_file,
    copy_file,
    new_directory,
    output_problem,
    write_file,
)

NAMES = st.one_of(
    st.text(min_size=1, max_size=300),
    st.sampled_from(["a" * 255, "b" * 256, "é" * 128, "x\0y", "sub/dir/f.txt", "/lead", "."]),
).filter(lambda name: ".." not in name.split("/"))  # the test writes: keep it inside its folder


@contextmanager
def _umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def _tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


@settings(max_examples=60, deadline=None)
@given(NAMES)
@example("c" * 250)  # fits, but a temporary name built from it would not
def test_a_name_is_written_exactly_or_refused_before_any_byte(name: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp, "out")
        root.mkdir()
        path = Path(f"{root}/{name}")  # a name starting with '/' stays inside root too
        assert "\0" in name or Path(os.path.realpath(path)).is_relative_to(root)
        if output_problem(path) is not None:
            with pytest.raises(OSError):
                write_file(path, b"data")
            assert _tree(root) == set()
            return
        write_file(path, b"data")
        assert path.read_bytes() == b"data"
        rel = path.relative_to(root).as_posix()
        assert _tree(root) == {rel, *(p.as_posix() for p in Path(rel).parents if p.name)}


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 0o777), st.integers(0, 0o777), st.sampled_from([0o755, 0o644]))
def test_modes_are_never_wider_than_the_source_or_the_umask(
    umask: int, source_mode: int, cap: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp, "src")
        src.write_bytes(b"x")
        src.chmod(source_mode | 0o400)  # readable by its owner, to be copied at all
        with _umask(umask):
            copy_file(src, Path(tmp, "copy"), cap=cap)
            write_file(Path(tmp, "new"), "x")
        assert stat.S_IMODE(Path(tmp, "copy").stat().st_mode) == (
            (source_mode | 0o400) & cap & ~umask
        )
        assert stat.S_IMODE(Path(tmp, "new").stat().st_mode) == 0o666 & ~umask


def test_an_output_that_is_an_input_is_refused(tmp_path: Path) -> None:
    model = tmp_path / "m.onnx"
    model.write_bytes(b"model")
    os.link(model, tmp_path / "hard")
    (tmp_path / "dir").mkdir()
    for out in (model, tmp_path / "hard", tmp_path / "dir" / ".." / "m.onnx"):
        assert output_problem(out, [model]) == (
            f"is the input {model} (the same file): writing it would replace what is read"
        )
    assert output_problem(tmp_path / "other.json", [model]) is None


def test_a_file_written_meanwhile_at_the_output_is_kept(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    with (
        pytest.raises(FileExistsError, match="put there during the run"),
        atomic_file(out) as fh,
    ):
        fh.write("ours")
        out.write_text("theirs")
    assert out.read_text() == "theirs" and _tree(tmp_path) == {"report.json"}


@pytest.mark.parametrize("renameat2", ["renameat2", "without renameat2"])
def test_replacing_an_earlier_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, renameat2: str
) -> None:
    """An output's own earlier file or directory is replaced, also where the C library has
    no renameat2 (checked just before a plain rename instead)."""
    if renameat2 != "renameat2":
        monkeypatch.setattr(files, "_RENAMEAT2", None)
    write_file(tmp_path / "f", "1")
    write_file(tmp_path / "f", "2")
    assert (tmp_path / "f").read_text() == "2"
    for content in ("1", "2"):
        with new_directory(tmp_path / "d", BundleError, lambda _: None) as tmp:
            (tmp / "x").write_text(content)
    assert (tmp_path / "d" / "x").read_text() == "2" and _tree(tmp_path) == {"f", "d", "d/x"}

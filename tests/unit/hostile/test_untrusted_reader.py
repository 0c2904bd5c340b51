"""The one reader of untrusted bytes (``ort_wrapper.untrusted``), by property: whatever the
bytes, a read returns exactly the file or raises the caller's typed error; an .npy file loads
only when its header describes exactly the bytes that follow; a symlink is followed only when it
stays inside the named root; a FIFO, directory or device is refused without blocking."""

from __future__ import annotations

import contextlib
import os
import struct
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ort_wrapper.errors import InputError
from ort_wrapper.untrusted import load_npy, read_bounded, read_json

SETTINGS = settings(max_examples=200, deadline=None)


def _write(data: bytes) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="reader-"))
    (folder / "f").write_bytes(data)
    return folder / "f"


@SETTINGS
@given(st.binary(max_size=256), st.integers(0, 300))
def test_a_read_is_the_whole_file_or_refused_by_size(data: bytes, limit: int) -> None:
    path = _write(data)
    if len(data) <= limit:
        assert read_bounded(path, InputError, limit) == data
    else:
        with pytest.raises(InputError, match=f"{len(data)} bytes, more than the {limit}"):
            read_bounded(path, InputError, limit)


@SETTINGS
@given(st.binary(max_size=128))
def test_json_is_parsed_or_refused(data: bytes) -> None:
    try:
        read_json(_write(data), InputError)
    except InputError as exc:
        assert "f" in str(exc)


DTYPES = st.sampled_from(["<f4", ">f8", "<i8", "|u1", "|b1", "<c8", "<U3", "|S2", "<m8[s]"])


@SETTINGS
@given(hnp.arrays(DTYPES, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)))
def test_saved_arrays_load_back_bit_for_bit(array: np.ndarray) -> None:
    folder = Path(tempfile.mkdtemp(prefix="npy-"))
    for name, saved in (("c.npy", array), ("f.npy", np.asfortranarray(array))):
        np.save(folder / name, saved)
        got = load_npy(folder / name, InputError)
        assert got.dtype == saved.dtype and got.shape == saved.shape
        assert got.tobytes() == saved.tobytes()


def _npy(shape: tuple[int, ...], descr: str, payload: bytes) -> bytes:
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}".encode()
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + payload


@SETTINGS
@given(
    st.lists(st.integers(0, 1 << 40), max_size=4).map(tuple),
    st.sampled_from(["<f4", "<i8", "|u1", "<U2"]),
    st.integers(0, 64),
)
def test_a_header_loads_only_when_it_describes_the_bytes_that_follow(
    shape: tuple[int, ...], descr: str, size: int
) -> None:
    """Memory is bounded by the file: a header claiming more (or less) than follows it is an
    InputError before anything is allocated for it."""
    path = _write(_npy(shape, descr, b"\x01" * size))
    itemsize = np.dtype(descr).itemsize
    claimed = int(np.prod(shape, dtype=object)) * itemsize
    if int(np.prod([max(d, 1) for d in shape], dtype=object)) * itemsize > sys.maxsize:
        with pytest.raises(InputError, match="larger than numpy holds"):
            load_npy(path, InputError)
    elif claimed == size:
        assert load_npy(path, InputError).shape == shape
    else:
        with pytest.raises(InputError, match=f"but {size} bytes follow it"):
            load_npy(path, InputError)


@SETTINGS
@given(st.binary(max_size=200))
def test_any_bytes_are_an_array_or_an_input_error(data: bytes) -> None:
    for content in (data, b"\x93NUMPY\x01\x00" + data):
        with contextlib.suppress(InputError):
            load_npy(_write(content), InputError)


def test_a_pickle_is_never_loaded(tmp_path: Path) -> None:
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match="Python objects"):
        load_npy(tmp_path / "o.npy", InputError)
    strings = np.array(["setosa", "é"], dtype=object)  # what ONNX Runtime gives for strings
    np.save(tmp_path / "s.npy", strings, allow_pickle=True)
    with pytest.raises(InputError, match=r"save a string array instead: .*arr\.astype\(str\)"):
        load_npy(tmp_path / "s.npy", InputError)
    np.save(tmp_path / "s.npy", strings.astype(str))  # as the message says: read back
    assert load_npy(tmp_path / "s.npy", InputError).tolist() == ["setosa", "é"]


COMPONENTS = st.lists(st.sampled_from(["..", ".", "in", "sub", "out"]), min_size=1, max_size=5)


@SETTINGS
@given(COMPONENTS)
def test_a_symlink_is_followed_only_inside_the_root(parts: list[str]) -> None:
    """Whatever the link says, what is read lies inside the root (and a link to a file outside
    is refused: checked by the test below)."""
    base = Path(tempfile.mkdtemp(prefix="root-"))
    root = base / "root"
    for folder in (root / "in", root / "sub", base / "out"):
        folder.mkdir(parents=True)
        for name in ("in", "sub", "out"):
            (folder / name).write_bytes(b"data")
    link = root / "sub" / "link"
    link.symlink_to(os.path.join(*parts))
    try:
        data = read_bounded(link, InputError, root=root)
    except (InputError, FileNotFoundError):
        return  # refused: outside, a directory, or nothing the kernel can open
    assert data == b"data" and link.resolve().is_relative_to(root.resolve())


def test_a_symlink_to_a_file_outside_the_root_is_refused(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "secret").write_bytes(b"secret")
    (tmp_path / "root" / "link").symlink_to("../secret")
    with pytest.raises(InputError, match="leads outside"):
        read_bounded(tmp_path / "root" / "link", InputError, root=tmp_path / "root")


@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
def test_what_is_not_a_regular_file_is_refused_without_blocking(tmp_path: Path, kind) -> None:
    path = tmp_path / "x.npy"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    else:
        path.symlink_to("/dev/zero")
    for read in (lambda: read_bounded(path, InputError), lambda: load_npy(path, InputError)):
        with pytest.raises(InputError, match=r"x\.npy is (not a regular file|a directory)"):
            read()

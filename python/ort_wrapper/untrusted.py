"""The one reader of untrusted bytes: every file a user names (a model, an input or expected
output, a manifest, a config, a test-data folder's files) is read here.

A file is read only when it is a regular file (a FIFO, device or socket is refused without
blocking: the open is non-blocking and the type is checked on the open descriptor), no larger
than the caller's cap (checked before a byte is read), and, when it was found inside a folder
the user named, resolving inside that folder (a symlink leading out is refused). Parsing is
bounded by the file: an ``.npy`` header must describe exactly the bytes that follow it. Every
refusal is the caller's typed error naming the file and what was expected.
"""

from __future__ import annotations

import json
import mmap
import os
import posixpath
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from .errors import OrtWrapperError
from .files import confined

__all__ = [
    "ARRAY_LIMIT",
    "JSON_LIMIT",
    "MODEL_LIMIT",
    "load_npy",
    "location_problem",
    "mapped",
    "opened",
    "read_bounded",
    "read_json",
]

JSON_LIMIT = 16 << 20  # bytes: far above any real manifest (a CUDA bundle's is ~0.2 MiB)
MODEL_LIMIT = 2 << 30  # protobuf's own limit on a serialised message (ONNX Runtime's too)
ARRAY_LIMIT = 16 << 30  # an input or reference array (.npy, .pb)

Error = type[OrtWrapperError]


def _open(path: Path, error: Error, root: Path | None) -> int:
    if root is not None:
        confined(root, path, error, "file")
    try:
        return os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise
    except PermissionError:
        raise error(f"{path}: permission denied") from None
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror}") from None


def _refusal(info: os.stat_result, limit: int) -> str | None:
    if stat.S_ISDIR(info.st_mode):
        return "is a directory (expected a regular file)"
    if not stat.S_ISREG(info.st_mode):
        return "is not a regular file (a FIFO, device or socket is never read)"
    if info.st_size > limit:
        return f"is {info.st_size} bytes, more than the {limit} this reader takes"
    return None


@contextmanager
def opened(
    path: Path, error: Error, *, limit: int, root: Path | None = None
) -> Iterator[tuple[IO[bytes], int]]:
    """``path`` open for reading, with its size: a regular file of at most ``limit`` bytes
    (inside ``root``, symlinks resolved, when given). ``error`` names the file otherwise;
    FileNotFoundError passes."""
    fd = _open(path, error, root)
    info = os.fstat(fd)
    problem = _refusal(info, limit)
    if problem is not None:
        os.close(fd)
        raise error(f"{path} {problem}")
    with os.fdopen(fd, "rb") as fh:
        yield fh, info.st_size


def read_bounded(
    path: Path, error: Error, limit: int = JSON_LIMIT, *, root: Path | None = None
) -> bytes:
    """The bytes of ``path``, read through :func:`opened`."""
    with opened(path, error, limit=limit, root=root) as (fh, _):
        return fh.read(limit + 1)


def read_json(
    path: Path, error: Error, limit: int = JSON_LIMIT, *, root: Path | None = None
) -> Any:
    """Parse the JSON file ``path`` (read by :func:`read_bounded`): UTF-8, nested no deeper than
    Python can parse; every problem is ``error`` naming the file."""
    data = read_bounded(path, error, limit, root=root)
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise error(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except RecursionError:
        raise error(f"{path} is nested too deeply for a JSON document this reader takes") from None
    except ValueError as exc:
        raise error(f"{path} is not valid JSON: {exc}") from None


@contextmanager
def mapped(
    path: Path, error: Error, *, limit: int, root: Path | None = None
) -> Iterator[bytes | mmap.mmap]:
    """The bytes of ``path`` (read through :func:`opened`) mapped read-only, not copied."""
    with opened(path, error, limit=limit, root=root) as (fh, size):
        if size == 0:
            yield b""
            return
        with mmap.mmap(fh.fileno(), size, access=mmap.ACCESS_READ) as data:
            yield data


def location_problem(directory: Path, location: str) -> str | None:
    """Why an external-data ``location`` does not name a file inside ``directory`` (None when it
    does): it is absolute, a '..' leads up out of it, or a symlink leads out of it."""
    if "\0" in location:
        return "it holds a NUL byte"
    normal = posixpath.normpath(location)
    if normal.startswith("/"):
        return "it is absolute"
    if normal == ".." or normal.startswith("../"):
        return "a '..' leads up out of it"
    if not (directory / normal).resolve().is_relative_to(directory.resolve()):
        return "a symlink leads out of it"
    return None


def _npy_header(fh: IO[bytes], path: Path, error: Error) -> tuple[tuple[int, ...], bool, Any]:
    from numpy.lib import format as npy

    try:
        version = npy.read_magic(fh)
        if version == (1, 0):
            return npy.read_array_header_1_0(fh)
        if version == (2, 0):
            return npy.read_array_header_2_0(fh)
    except (ValueError, SyntaxError, OSError) as exc:
        raise error(f"{path} is not a .npy array file ({exc})") from None
    raise error(f"{path}: .npy format version {version} is not read here (expected 1.0 or 2.0)")


def _npy_count(path: Path, error: Error, header: tuple[Any, ...], data_bytes: int) -> int:
    """How many elements the header describes, which must fill exactly the bytes after it."""
    shape, _, dtype = header
    if dtype.hasobject:
        raise error(
            f"{path} holds Python objects (an object array, stored as a pickle), which are never "
            "loaded; for strings save a string array instead: np.save(path, arr.astype(str))"
        )
    if dtype.itemsize == 0 or any(d < 0 for d in shape):
        raise error(f"{path}: the .npy header's dtype {dtype} or shape {shape} holds no data")
    count = extent = dtype.itemsize
    for dim in shape:
        count, extent = count * dim, extent * max(dim, 1)
    count //= dtype.itemsize
    if extent > sys.maxsize:  # numpy refuses such a shape even with a zero in it
        raise error(f"{path}: the .npy header's shape {list(shape)} is larger than numpy holds")
    if count * dtype.itemsize != data_bytes:
        raise error(
            f"{path}: the .npy header says shape {list(shape)} of {dtype} "
            f"({count * dtype.itemsize} bytes), but {data_bytes} bytes follow it"
        )
    return count


def load_npy(path: Path, error: Error, *, root: Path | None = None) -> Any:
    """A .npy array (never a pickle), read through :func:`opened` with its header checked
    against the file's size before any memory is allocated for it."""
    import numpy as np

    with opened(path, error, limit=ARRAY_LIMIT, root=root) as (fh, size):
        header = _npy_header(fh, path, error)
        count = _npy_count(path, error, header, size - fh.tell())
        array = np.fromfile(fh, dtype=header[2], count=count)
    if array.size != count:
        raise error(f"{path} changed while it was read")
    return array.reshape(header[0], order="F" if header[1] else "C")

"""Refuse a model whose tensors read external data from outside the model's directory.

ONNX Runtime follows a tensor's ``external_data`` ``location`` wherever it points (``../../x``,
an absolute path), so an untrusted model could read any file the process can, and ``run -o``
would write its bytes out. Before a session is created, every tensor the model holds
(initializers, sparse initializers, ``Constant``-style attribute tensors, in subgraphs, functions
and training graphs too) is found with a small protobuf wire reader (no ``onnx`` import: the
runtime stays light), and each location must resolve, symlinks followed, inside the model's
directory. A model held as bytes has no directory: external data there needs the opt-in.
"""

from __future__ import annotations

import mmap
import posixpath
from collections.abc import Iterator
from pathlib import Path

from ..errors import ModelLoadError

__all__ = ["check_external_data", "external_locations"]

_MODEL, _GRAPH, _NODE, _ATTR, _TENSOR, _SPARSE, _FUNCTION, _TRAINING = range(8)
# message kind -> {field number: message kind of that field} (onnx.proto; only the fields that
# can lead to a TensorProto)
_SCHEMA = {
    _MODEL: {7: _GRAPH, 20: _TRAINING, 25: _FUNCTION},
    _GRAPH: {1: _NODE, 5: _TENSOR, 15: _SPARSE},
    _NODE: {5: _ATTR},
    _ATTR: {5: _TENSOR, 6: _GRAPH, 10: _TENSOR, 11: _GRAPH, 22: _SPARSE, 23: _SPARSE},
    _SPARSE: {1: _TENSOR, 2: _TENSOR},
    _FUNCTION: {7: _NODE, 11: _ATTR},
    _TRAINING: {1: _GRAPH, 2: _GRAPH},
    _TENSOR: {},
}
_TENSOR_NAME, _EXTERNAL_DATA = 8, 13
_OPT_IN = "SessionBuilder.trust_external_data() for a model you trust"


class _Malformed(Exception):
    pass


def _varint(data: memoryview, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise _Malformed
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if not byte & 0x80:
            return value, pos


def _fields(data: memoryview) -> Iterator[tuple[int, memoryview | None]]:
    """(field number, bytes of a length-delimited field or None) for each field of a message."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        wire = key & 7
        if wire == 0:
            _, pos = _varint(data, pos)
            value = None
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
            value = None
        elif wire == 2:
            length, pos = _varint(data, pos)
            value = data[pos : pos + length]
            pos += length
        else:
            raise _Malformed
        if pos > len(data):
            raise _Malformed
        yield key >> 3, value


def _tensor_location(data: memoryview) -> tuple[str, str] | None:
    """(tensor name, external-data location) of one TensorProto, or None without one."""
    name, location = "", None
    for number, value in _fields(data):
        if value is None:
            continue
        if number == _TENSOR_NAME:
            name = bytes(value).decode("utf-8", "replace")
        elif number == _EXTERNAL_DATA:
            entry = dict(_fields(value))
            if entry.get(1) is not None and bytes(entry[1]) == b"location" and entry.get(2):
                location = bytes(entry[2]).decode("utf-8", "surrogateescape")
    return (name, location) if location is not None else None


def external_locations(data: bytes | mmap.mmap) -> list[tuple[str, str]]:
    """(tensor name, location) for every tensor of a serialised ModelProto that keeps its data
    outside the model; [] when there is none or the bytes are not an ONNX protobuf (an ORT-format
    model, garbage: ONNX Runtime reports those itself)."""
    if data.find(b"location") < 0:  # fast path: the key every external tensor spells out
        return []
    found: list[tuple[str, str]] = []
    stack = [(_MODEL, memoryview(data))]
    try:
        while stack:
            kind, message = stack.pop()
            if kind == _TENSOR:
                if (hit := _tensor_location(message)) is not None:
                    found.append(hit)
                continue
            children = _SCHEMA[kind]
            for number, value in _fields(message):
                if value is not None and number in children:
                    stack.append((children[number], value))
    except _Malformed:
        return found
    return found


def _outside(location: str, directory: Path) -> bool:
    normal = posixpath.normpath(location)
    if normal.startswith("/") or normal == ".." or normal.startswith("../"):
        return True
    return not (directory / normal).resolve().is_relative_to(directory.resolve())


def _read(path: Path) -> list[tuple[str, str]]:
    try:
        with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return external_locations(data)
    except PermissionError:
        raise ModelLoadError(f"{path}: permission denied (cannot read the model)") from None
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot read the model {path}: {exc}") from None


def check_external_data(model: Path | bytes, label: str, *, trusted: bool = False) -> None:
    """ModelLoadError naming the tensor and its location when ``model`` (a file or bytes) reads
    external data from outside its directory (any external data, for bytes); nothing when
    ``trusted``."""
    if trusted:
        return
    if isinstance(model, Path):
        for name, location in _read(model):
            if _outside(location, model.parent):
                raise ModelLoadError(
                    f"{label}: tensor {name!r} reads external data from {location!r}, outside "
                    f"the model's directory {model.parent.absolute()}: refused ({_OPT_IN})"
                )
        return
    if found := external_locations(model):
        name, location = found[0]
        raise ModelLoadError(
            f"{label}: tensor {name!r} reads external data from {location!r}, but a model "
            f"given as bytes has no directory to confine it to: refused (load it from its file, "
            f"or {_OPT_IN})"
        )

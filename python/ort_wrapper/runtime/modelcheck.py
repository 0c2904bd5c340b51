"""Refuse a model whose tensors read external data from outside the model's directory.

ONNX Runtime follows a tensor's ``external_data`` ``location`` wherever it points (``../../x``,
an absolute path), so an untrusted model could read any file the process can, and ``run -o``
would write its bytes out. Before a session is created, every tensor the model holds
(initializers, sparse initializers, ``Constant``-style attribute tensors, in subgraphs, functions
and training graphs too) is found with a small protobuf wire reader (no ``onnx`` import: the
runtime stays light), and each location must resolve, symlinks followed, inside the model's
directory. A model held as bytes has no directory: external data there needs the opt-in.

The reader is fail-closed: it accounts for every field as protobuf's parser does (unknown fields
of every wire type, groups), and a model that names external data in bytes it cannot account
for is refused with the reason, since ONNX Runtime's parser might skip what hides a location.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from pathlib import Path

from ..errors import ModelLoadError
from ..untrusted import MODEL_LIMIT, location_problem, mapped, opened

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
_LENGTH, _GROUP, _END_GROUP = 2, 3, 4
_MAX_DEPTH = 100  # protobuf's default recursion limit: deeper nesting fails its parse too
_OPT_IN = "SessionBuilder.trust_external_data() for a model you trust"
_ORT_FORMAT_MARK = b"ORTM"  # a flatbuffer's identifier at byte 4: ONNX Runtime's own format


class _Malformed(Exception):
    """Bytes the reader cannot account for as protobuf fields: the reason."""


def _varint(data: memoryview, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise _Malformed(f"a varint at byte {pos} is cut off or longer than 10 bytes")
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if not byte & 0x80:
            return value, pos


def _key(data: memoryview, pos: int) -> tuple[int, int, int]:
    """(field number, wire type, position after the key) of the key at ``pos``."""
    key, after = _varint(data, pos)
    number, wire = key >> 3, key & 7
    if number == 0 or key >= 1 << 32 or wire > 5:
        raise _Malformed(f"byte {pos} holds no valid field key ({key:#x})")
    return number, wire, after


def _value(data: memoryview, pos: int, wire: int) -> tuple[int, int]:
    """(start, end) of the scalar or length-delimited value of ``wire`` type at ``pos``."""
    if wire == 0:
        return pos, _varint(data, pos)[1]
    if wire == _LENGTH:
        length, pos = _varint(data, pos)
        end = pos + length
    else:
        end = pos + (8 if wire == 1 else 4)
    if end > len(data):
        raise _Malformed(f"a value at byte {pos} runs past the end of its message")
    return pos, end


def _group_end(data: memoryview, pos: int, number: int) -> tuple[int, int]:
    """(end of the group's content, position after its end key) for the group of field
    ``number`` whose content starts at ``pos``: every field inside accounted for."""
    open_groups = [number]
    while open_groups:
        if pos >= len(data):
            raise _Malformed(f"group field {number} is never closed")
        start = pos
        inner, wire, pos = _key(data, pos)
        if wire == _GROUP:
            open_groups.append(inner)
            if len(open_groups) > _MAX_DEPTH:
                raise _Malformed(f"groups nest deeper than {_MAX_DEPTH} at byte {start}")
        elif wire == _END_GROUP:
            if inner != open_groups.pop():
                raise _Malformed(f"byte {start} closes group field {inner}, which is not open")
        else:
            pos = _value(data, pos, wire)[1]
    return start, pos


def _fields(data: memoryview) -> Iterator[tuple[int, int, memoryview | None]]:
    """(field number, wire type, content) for each field of a message, every wire type
    accounted for as protobuf's parser does: the content of a length-delimited field or a
    group, None for a scalar. _Malformed when a byte cannot be accounted for."""
    pos = 0
    while pos < len(data):
        number, wire, pos = _key(data, pos)
        if wire == _END_GROUP:
            raise _Malformed(f"field {number} ends a group that was never opened")
        if wire == _GROUP:
            end, after = _group_end(data, pos, number)
            yield number, wire, data[pos:end]
            pos = after
            continue
        start, pos = _value(data, pos, wire)
        yield number, wire, data[start:pos] if wire == _LENGTH else None


def _tensor_locations(data: memoryview) -> Iterator[tuple[str, str]]:
    """(tensor name, location) for every value an external-data entry keyed ``location`` holds
    in one TensorProto (every occurrence: protobuf keeps the last, ONNX Runtime reads the last
    entry, and this reader checks them all)."""
    name, locations = "", []
    for number, _, value in _fields(data):
        if value is None:
            continue
        if number == _TENSOR_NAME:
            name = bytes(value).decode("utf-8", "replace")
        elif number == _EXTERNAL_DATA:
            entry = [(n, bytes(v)) for n, w, v in _fields(value) if w == _LENGTH and v is not None]
            if (1, b"location") in entry:
                locations += [v.decode("utf-8", "surrogateescape") for n, v in entry if n == 2]
    return ((name, location) for location in locations)


def external_locations(data: bytes | mmap.mmap) -> list[tuple[str, str]]:
    """(tensor name, location) for every tensor of a serialised ModelProto that keeps its data
    outside the model; [] when there is none. Every field is accounted for (unknown fields,
    groups and every wire type skipped as protobuf skips them; a known field spelled as a group
    is searched too): _Malformed with the reason when a byte cannot be."""
    if data.find(b"location") < 0:  # fast path: the key every external tensor spells out
        return []
    found: list[tuple[str, str]] = []
    stack = [(_MODEL, memoryview(data))]
    while stack:
        kind, message = stack.pop()
        if kind == _TENSOR:
            found += _tensor_locations(message)
            continue
        children = _SCHEMA[kind]
        for number, _, value in _fields(message):
            if value is not None and number in children:
                stack.append((children[number], value))
    return found


def _scan(data: bytes | mmap.mmap) -> tuple[list[tuple[str, str]], str | None]:
    """The external locations, or why the bytes cannot be accounted for (returned, not raised,
    so no traceback keeps views of a mapped file alive)."""
    if data[4:8] == _ORT_FORMAT_MARK:  # ONNX Runtime reads these bytes as its own format
        return [], None
    try:
        return external_locations(data), None
    except _Malformed as exc:
        reason = str(exc)
    return [], reason


def _locations(model: Path | bytes, label: str) -> list[tuple[str, str]]:
    if isinstance(model, bytes):
        found, reason = _scan(model)
    else:
        with mapped(model, ModelLoadError, limit=MODEL_LIMIT) as data:
            if model.name.endswith(".ort"):  # ONNX Runtime reads a file so named as its format
                return []
            found, reason = _scan(data)
    if reason is not None:
        raise ModelLoadError(
            f"{label}: the model names external data ('location') and this reader cannot "
            f"account for every field of it as ONNX Runtime's protobuf parser would ({reason}): "
            f"refused, since that parser may skip what hides a location ({_OPT_IN})"
        )
    return found


def check_external_data(model: Path | bytes, label: str, *, trusted: bool = False) -> None:
    """ModelLoadError naming the tensor and its location when ``model`` (a file or bytes) reads
    external data from outside its directory (any external data, for bytes), or names external
    data in bytes this reader cannot account for; when ``trusted``, only a file that is not
    one ONNX Runtime could read (a FIFO, a device, over protobuf's 2 GiB) is refused."""
    if trusted:
        if isinstance(model, Path):
            with opened(model, ModelLoadError, limit=MODEL_LIMIT):
                pass
        return
    if isinstance(model, Path):
        for name, location in _locations(model, label):
            if (problem := location_problem(model.parent, location)) is not None:
                raise ModelLoadError(
                    f"{label}: tensor {name!r} reads external data from {location!r}, outside "
                    f"the model's directory {model.parent.absolute()} ({problem}): refused "
                    f"({_OPT_IN})"
                )
        return
    if found := _locations(model, label):
        name, location = found[0]
        raise ModelLoadError(
            f"{label}: tensor {name!r} reads external data from {location!r}, but a model "
            f"given as bytes has no directory to confine it to: refused (load it from its file, "
            f"or {_OPT_IN})"
        )

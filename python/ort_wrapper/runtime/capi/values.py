"""numpy arrays to OrtValues and back; ORT type descriptions as the pybind module spells them.

Tensors of every element type: numeric, bool, string, float16, and bfloat16/float8/4-bit
through ml_dtypes (4-bit tensors are packed two to a byte, as ORT stores them). Outputs that are
sequences become lists, maps become dicts, an empty optional becomes None.
"""

from __future__ import annotations

import ctypes
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...errors import BackendLimitError, InputError, OrtApiError
from ..elements import PACKED as _PACKED
from ..elements import STRING as _STRING
from ..elements import dtype_codes, element_name, numpy_dtype, plain_codes
from .api import OrtLibrary

__all__ = ["Converter", "TypedFeed", "describe_type", "from_value", "to_value"]

_TENSOR, _SEQUENCE, _MAP, _OPAQUE, _SPARSE, _OPTIONAL = 1, 2, 3, 4, 5, 6


@dataclass(frozen=True)
class TypedFeed:
    """An array fed as a given ONNX element type (its bytes reinterpreted), for element types
    numpy spells differently (onnx's own bfloat16/float8/4-bit arrays)."""

    array: Any
    element_type: int


def describe_type(lib: OrtLibrary, type_info: int) -> tuple[str, int | None, tuple[Any, ...]]:
    """'tensor(float)' / 'seq(map(int64,tensor(float)))' ..., the element type of a tensor
    (else None) and its shape (ints, symbolic names, None for unknown dims)."""
    kind = ctypes.c_int()
    lib.call("GetOnnxTypeFromTypeInfo", type_info, ctypes.byref(kind))
    if kind.value in (_TENSOR, _SPARSE):
        tensor = lib.out("CastTypeInfoToTensorInfo", type_info)
        code, shape = _element_and_shape(lib, tensor)
        prefix = "tensor" if kind.value == _TENSOR else "sparse_tensor"
        return f"{prefix}({element_name(code)})", code, shape
    if kind.value == _SEQUENCE:
        inner = lib.out(
            "GetSequenceElementType", lib.out("CastTypeInfoToSequenceTypeInfo", type_info)
        )
        return f"seq({_owned_description(lib, inner)})", None, ()
    if kind.value == _MAP:
        map_info = lib.out("CastTypeInfoToMapTypeInfo", type_info)
        key = ctypes.c_int()
        lib.call("GetMapKeyType", map_info, ctypes.byref(key))
        value = _owned_description(lib, lib.out("GetMapValueType", map_info))
        return f"map({element_name(key.value)},{value})", None, ()
    if kind.value == _OPTIONAL:
        optional = lib.out("CastTypeInfoToOptionalTypeInfo", type_info)
        inner = lib.out("GetOptionalContainedTypeInfo", optional)
        return f"optional({_owned_description(lib, inner)})", None, ()
    return ("opaque" if kind.value == _OPAQUE else f"onnx type {kind.value}"), None, ()


def _owned_description(lib: OrtLibrary, type_info: int) -> str:
    try:
        return describe_type(lib, type_info)[0]
    finally:
        lib.fn("ReleaseTypeInfo")(type_info)


def _element_and_shape(lib: OrtLibrary, tensor: int) -> tuple[int, tuple[Any, ...]]:
    code, count = ctypes.c_int(), ctypes.c_size_t()
    lib.call("GetTensorElementType", tensor, ctypes.byref(code))
    lib.call("GetDimensionsCount", tensor, ctypes.byref(count))
    n = count.value
    dims = (ctypes.c_int64 * n)()
    symbols = (ctypes.c_char_p * n)()
    lib.call("GetDimensions", tensor, dims, n)
    lib.call("GetSymbolicDimensions", tensor, symbols, n)
    shape = tuple(
        d if d >= 0 else (symbols[i].decode() if symbols[i] else None) for i, d in enumerate(dims)
    )
    return code.value, shape


def _native(array: Any) -> Any:
    """C-contiguous, native byte order (the one place feeds are normalised)."""
    import numpy as np

    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    return np.require(array, requirements="C")  # ascontiguousarray would make 0-d arrays 1-d


def _pack4(array: Any) -> Any:
    import numpy as np

    flat = array.reshape(-1).view(np.uint8) & 0x0F
    if flat.size % 2:
        flat = np.concatenate([flat, np.zeros(1, np.uint8)])
    return (flat[0::2] | (flat[1::2] << 4)).astype(np.uint8)


def to_value(lib: OrtLibrary, name: str, feed: Any, keep: list[Any], kind: str = "") -> int:
    """An OrtValue over ``feed`` (an array, a TypedFeed, a list for a ``seq(...)`` input, a
    dict for a ``map(...)`` one); the buffers it borrows are appended to ``keep``, which must
    outlive the OrtValue. ``kind`` is the input's type as ``describe_type`` spells it."""
    import numpy as np

    if kind.startswith("optional("):
        raise BackendLimitError(
            f"input {name!r} is {kind}: the C API has no call that makes an optional value"
        )
    if kind.startswith("seq(") and isinstance(feed, list | tuple):
        return _container(lib, name, [(f, kind[4:-1]) for f in feed], _SEQUENCE, keep)
    if kind.startswith("map(") and isinstance(feed, Mapping):
        pairs = [(np.array(list(feed.keys())), ""), (np.array(list(feed.values())), "")]
        return _container(lib, name, pairs, _MAP, keep)
    if isinstance(feed, TypedFeed):
        array, code = _native(np.asarray(feed.array)), feed.element_type
    else:
        array = _native(np.asarray(feed))
        code = _STRING if array.dtype.kind in "OUS" else dtype_codes().get(array.dtype)
        if code is None:
            raise InputError(f"input {name!r}: arrays of dtype {array.dtype} have no ONNX type")
    shape = (ctypes.c_int64 * array.ndim)(*array.shape)
    if code == _STRING:
        return _string_value(lib, array, shape)
    data = _pack4(array) if code in _PACKED else array
    keep.append(data)
    return lib.out(
        "CreateTensorWithDataAsOrtValue",
        lib.cpu_memory,
        data.ctypes.data,
        data.nbytes,
        shape,
        array.ndim,
        code,
    )


def _container(
    lib: OrtLibrary, name: str, items: list[tuple[Any, str]], kind: int, keep: list[Any]
) -> int:
    """A sequence (of the items) or a map (keys, values) made with ``CreateValue``, which
    copies its parts (released here)."""
    if not items:
        raise BackendLimitError(
            f"input {name!r}: the C API cannot make an empty sequence (CreateValue needs at "
            "least one value to know the element type)"
        )
    parts = (ctypes.c_void_p * len(items))()
    try:
        for i, (item, inner) in enumerate(items):
            parts[i] = to_value(lib, name, item, keep, inner)
        return lib.out("CreateValue", parts, len(items), kind)
    finally:
        for part in parts:
            if part:
                lib.fn("ReleaseValue")(part)


def _string_value(lib: OrtLibrary, array: Any, shape: Any) -> int:
    """A string tensor of ``array``'s elements, whole: FillStringTensor takes C strings, so an
    element holding a NUL byte is written again by its length (kept intact, as pybind keeps it)."""
    value = lib.out("CreateTensorAsOrtValue", lib.allocator, shape, array.ndim, _STRING)
    items = [(v if isinstance(v, bytes) else str(v).encode()) for v in array.reshape(-1).tolist()]
    try:
        lib.call("FillStringTensor", value, (ctypes.c_char_p * len(items))(*items), len(items))
        for index, item in enumerate(items):
            if b"\0" in item:
                buffer = lib.out("GetResizedStringTensorElementBuffer", value, index, len(item))
                ctypes.memmove(buffer, item, len(item))
    except BaseException:
        lib.fn("ReleaseValue")(value)
        raise
    return value


def from_value(lib: OrtLibrary, value: int, output: str) -> Any:
    """A copy of ``value`` as numpy (tensors), list (sequences), dict (maps) or None."""
    flag, kind = ctypes.c_int(), ctypes.c_int()
    lib.call("HasValue", value, ctypes.byref(flag))
    if not flag.value:
        return None
    lib.call("GetValueType", value, ctypes.byref(kind))
    if kind.value == _TENSOR:
        return _tensor(lib, value, output)
    if kind.value == _SEQUENCE:
        count = ctypes.c_size_t()
        lib.call("GetValueCount", value, ctypes.byref(count))
        return [_child(lib, value, i, output) for i in range(count.value)]
    if kind.value == _MAP:
        keys, values = _child(lib, value, 0, output), _child(lib, value, 1, output)
        return dict(zip(keys.tolist(), values.tolist(), strict=True))
    raise OrtApiError(
        f"output {output!r} is an ONNX value of kind {kind.value} (opaque or sparse), which the "
        "C API backend does not convert",
        "ORT_NOT_IMPLEMENTED",
    )


def _child(lib: OrtLibrary, value: int, index: int, output: str) -> Any:
    child = lib.out("GetValue", value, index, lib.allocator)
    try:
        return from_value(lib, child, output)
    finally:
        lib.fn("ReleaseValue")(child)


def _tensor(lib: OrtLibrary, value: int, output: str) -> Any:
    import numpy as np

    info = lib.out("GetTensorTypeAndShape", value)
    try:
        code, shape = _element_and_shape(lib, info)
    finally:
        lib.fn("ReleaseTensorTypeAndShapeInfo")(info)
    count = int(np.prod(shape, dtype=np.int64))
    if code == _STRING:
        return _strings(lib, value, count).reshape(shape)
    dtype = numpy_dtype(code)
    if dtype is None:
        raise OrtApiError(
            f"output {output!r} is a tensor({element_name(code)}); install ml_dtypes to read it",
            "ORT_NOT_IMPLEMENTED",
        )
    nbytes = (count + 1) // 2 if code in _PACKED else count * dtype.itemsize
    out = np.empty(nbytes, np.uint8)
    if nbytes:
        ctypes.memmove(out.ctypes.data, lib.out("GetTensorMutableData", value), nbytes)
    if code in _PACKED:  # one nibble per byte, as ml_dtypes stores 4-bit values
        out = np.stack([out & 0x0F, out >> 4], axis=-1).reshape(-1)[:count]
    return out.view(dtype).reshape(shape)


def _strings(lib: OrtLibrary, value: int, count: int) -> Any:
    import numpy as np

    length = ctypes.c_size_t()
    lib.call("GetStringTensorDataLength", value, ctypes.byref(length))
    buffer = ctypes.create_string_buffer(max(length.value, 1))
    offsets = (ctypes.c_size_t * max(count, 1))()
    lib.call("GetStringTensorContent", value, buffer, length.value, offsets, count)
    raw = buffer.raw[: length.value]
    ends = [*offsets[1:count], length.value]
    return np.array(
        [raw[offsets[i] : ends[i]].decode(errors="replace") for i in range(count)], dtype=object
    )


def _address(array: Any) -> int:
    """The data address of a C-contiguous array (the buffer protocol is cheaper than
    ``array.ctypes``, but needs a writable array of a standard type)."""
    if array.flags.writeable:
        try:
            return ctypes.addressof(ctypes.c_byte.from_buffer(array))
        except (TypeError, ValueError):  # a buffer format ctypes does not take (ml_dtypes)
            pass
    return array.ctypes.data


class Converter:
    """The run path: plain tensors in and out with the C functions bound once, taking plain
    addresses, and no more calls than needed (each ctypes call costs a fraction of a
    microsecond, which adds up on small models); anything else goes through
    ``to_value``/``from_value``."""

    def __init__(self, lib: OrtLibrary) -> None:
        import numpy as np

        self.lib = lib
        self.ndarray = np.ndarray
        self.memory = lib.cpu_memory
        # numpy dtype -> element type, for feeds passed as they are (4-bit ones are packed)
        self.codes = plain_codes()
        self.slot = ctypes.sizeof(ctypes.c_void_p)
        self.create = lib.untyped("CreateTensorWithDataAsOrtValue", 7)
        self.type_shape = lib.untyped("GetTensorTypeAndShape", 2)
        self.rank = lib.untyped("GetDimensionsCount", 2)
        self.dims = lib.untyped("GetDimensions", 3)
        self.release_info = lib.untyped("ReleaseTensorTypeAndShapeInfo", 1)
        self.data = lib.untyped("GetTensorMutableData", 2)
        self.shapes: dict[tuple[int, ...], Any] = {}  # shape -> its int64_t[] (a few, reused)
        # declared output type -> numpy dtype, for tensors copied out directly
        self.declared = {
            f"tensor({element_name(code)})": dtype for dtype, code in plain_codes().items()
        }

    def _shape(self, shape: tuple[int, ...]) -> Any:
        if len(self.shapes) >= 64:
            self.shapes.clear()
        array = self.shapes[shape] = (ctypes.c_int64 * len(shape))(*shape)
        return array

    def feed(self, values: Any, i: int, name: str, feed: Any, keep: list[Any], kind: str) -> None:
        """Set ``values[i]`` to an OrtValue over ``feed`` (borrowing its buffer)."""
        if type(feed) is self.ndarray and kind.startswith("tensor("):
            code = self.codes.get(feed.dtype)  # non-native byte orders are not in the table
            if code is not None and feed.flags.c_contiguous:
                self.tensor(values, i, feed, code)
                return
        values[i] = to_value(self.lib, name, feed, keep, kind)

    def tensor(self, values: Any, i: int, array: Any, code: int) -> None:
        """Set ``values[i]`` to an OrtValue over ``array``, a C-contiguous native array whose
        elements are of ONNX type ``code`` (borrowing its buffer)."""
        shape = self.shapes.get(array.shape)
        if shape is None:
            shape = self._shape(array.shape)
        status = self.create(
            self.memory,
            _address(array) if array.nbytes else array.ctypes.data,
            array.nbytes,
            ctypes.addressof(shape),
            array.ndim,
            code,
            ctypes.addressof(values) + i * self.slot,
        )
        if status:
            self.lib.check(status)

    def fetch(self, value: int, output: str, kind: str) -> Any:
        """A numpy copy of a tensor output of a declared element type (ORT checks that the value
        is of it), or ``from_value`` for anything else."""
        import numpy as np

        dtype = self.declared.get(kind)
        if dtype is None:
            return from_value(self.lib, value, output)
        check, info, rank = self.lib.check, ctypes.c_void_p(), ctypes.c_size_t()
        check(self.type_shape(value, ctypes.addressof(info)))
        try:
            check(self.rank(info, ctypes.addressof(rank)))
            dims = (ctypes.c_int64 * rank.value)()
            check(self.dims(info, ctypes.addressof(dims), rank.value))
        finally:
            self.release_info(info)
        out = np.empty(tuple(dims), dtype)
        if out.nbytes:
            data = ctypes.c_void_p()
            check(self.data(value, ctypes.addressof(data)))
            ctypes.memmove(_address(out), data, out.nbytes)
        return out

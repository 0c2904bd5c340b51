"""Python values to OrtValues; ORT type descriptions as the pybind module spells them.

Tensors of every element type: numeric, bool, string, float16, and bfloat16/float8/4-bit
through ml_dtypes, imported only when a value needs it (4-bit tensors are packed two to a byte,
as ORT stores them); lists for sequence inputs, dicts for map inputs. Outputs are read back by
``readers``.
"""

from __future__ import annotations

import ctypes
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...errors import BackendLimitError, InputError
from ..elements import PACKED as _PACKED
from ..elements import STRING as _STRING
from ..elements import dtype_codes, element_name
from .api import OrtLibrary

__all__ = ["TypedFeed", "address", "describe_type", "to_value"]

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
    items = [v if isinstance(v, bytes) else str(v).encode() for v in array.reshape(-1).tolist()]
    try:
        lib.call("FillStringTensor", value, (ctypes.c_char_p * len(items))(*items), len(items))
        if b"\0" not in b"".join(items):  # the common case: one scan
            return value
        for index, item in enumerate(items):
            if b"\0" in item:
                buffer = lib.out("GetResizedStringTensorElementBuffer", value, index, len(item))
                ctypes.memmove(buffer, item, len(item))
    except BaseException:
        lib.fn("ReleaseValue")(value)
        raise
    return value


def address(array: Any) -> int:
    """The data address of a C-contiguous array (the buffer protocol is cheaper than
    ``array.ctypes``, but needs a writable array of a standard type)."""
    if array.flags.writeable:
        try:
            return ctypes.addressof(ctypes.c_byte.from_buffer(array))
        except (TypeError, ValueError):  # a buffer format ctypes does not take (ml_dtypes)
            pass
    return array.ctypes.data

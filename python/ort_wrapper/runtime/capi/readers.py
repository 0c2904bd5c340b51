"""Output OrtValues read by their declared type, with the fewest C API calls.

A reader is made once per declared output type ('tensor(float)', 'tensor(string)',
'seq(map(string,tensor(float)))'...) with the C functions it calls bound to plain addresses, so
reading a value asks ORT nothing the session already declared: no value-type or element-type
query, and a map's keys and values counted once. The C API has no bulk access to a sequence:
each element costs a ``GetValue`` and a release, and a map two more ``GetValue`` calls and the
reads of its two tensors. Other declared types (optional, an unknown element type) are read by
``read_any``, which asks ORT what each value is.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

from ...errors import OrtApiError
from ..elements import PACKED as _PACKED
from ..elements import STRING as _STRING
from ..elements import element_code, element_name, numpy_dtype
from .api import OrtLibrary
from .values import address

__all__ = ["Calls", "read_any", "reader_for"]

Reader = Callable[[int], Any]
_Flat = Callable[[int, int], list[Any]]  # (a 1-D tensor value, its element count) -> a list
_TENSOR, _SEQUENCE, _MAP = 1, 2, 3


class Calls:
    """The C functions the readers call, bound once per session (every argument an address)."""

    def __init__(self, lib: OrtLibrary) -> None:
        self.check = lib.check
        self.allocator = lib.allocator
        self.type_shape = lib.untyped("GetTensorTypeAndShape", 2)
        self.rank = lib.untyped("GetDimensionsCount", 2)
        self.dims = lib.untyped("GetDimensions", 3)
        self.element_count = lib.untyped("GetTensorShapeElementCount", 2)
        self.release_info = lib.untyped("ReleaseTensorTypeAndShapeInfo", 1)
        self.data = lib.untyped("GetTensorMutableData", 2)
        self.string_length = lib.untyped("GetStringTensorDataLength", 2)
        self.string_content = lib.untyped("GetStringTensorContent", 5)
        self.value_count = lib.untyped("GetValueCount", 2)
        self.get_value = lib.untyped("GetValue", 4)
        self.release = lib.untyped("ReleaseValue", 1)
        self.has_value = lib.untyped("HasValue", 2)
        self.value_type = lib.untyped("GetValueType", 2)
        self.element_type = lib.untyped("GetTensorElementType", 2)

    def query_int(self, fn: Any, value: int) -> int:
        """An ``int`` a getter of ``value`` writes."""
        out = ctypes.c_int()
        self.check(fn(value, ctypes.addressof(out)))
        return out.value

    def element(self, value: int) -> int:
        """A tensor value's element type."""
        info = ctypes.c_void_p()
        self.check(self.type_shape(value, ctypes.addressof(info)))
        try:
            return self.query_int(self.element_type, info.value or 0)
        finally:
            self.release_info(info)

    def shape(self, value: int) -> tuple[int, ...]:
        """A tensor value's dimensions."""
        check, info, rank = self.check, ctypes.c_void_p(), ctypes.c_size_t()
        check(self.type_shape(value, ctypes.addressof(info)))
        try:
            check(self.rank(info, ctypes.addressof(rank)))
            dims = (ctypes.c_int64 * rank.value)()
            check(self.dims(info, ctypes.addressof(dims), rank.value))
        finally:
            self.release_info(info)
        return tuple(dims)

    def count(self, value: int) -> int:
        """A tensor value's element count."""
        check, info, count = self.check, ctypes.c_void_p(), ctypes.c_size_t()
        check(self.type_shape(value, ctypes.addressof(info)))
        try:
            check(self.element_count(info, ctypes.addressof(count)))
        finally:
            self.release_info(info)
        return count.value

    def pointer(self, value: int) -> int:
        """A tensor value's data address."""
        data = ctypes.c_void_p()
        self.check(self.data(value, ctypes.addressof(data)))
        return data.value or 0

    def child(self, value: int, index: int) -> int:
        """Element ``index`` of a sequence, or a map's keys (0) or values (1): a new value."""
        out = ctypes.c_void_p()
        self.check(self.get_value(value, index, self.allocator, ctypes.addressof(out)))
        return out.value or 0

    def strings(self, value: int, count: int) -> list[str]:
        """The ``count`` strings of a string tensor, in two calls."""
        length = ctypes.c_size_t()
        self.check(self.string_length(value, ctypes.addressof(length)))
        size = length.value
        buffer = ctypes.create_string_buffer(max(size, 1))
        offsets = (ctypes.c_size_t * max(count, 1))()
        self.check(
            self.string_content(
                value, ctypes.addressof(buffer), size, ctypes.addressof(offsets), count
            )
        )
        raw, starts = buffer.raw[:size], offsets[:count]
        ends = [*starts[1:], size][:count]
        return [raw[a:b].decode(errors="replace") for a, b in zip(starts, ends, strict=True)]


def _numeric(calls: Calls, dtype: Any) -> Reader:
    import numpy as np

    def read(value: int) -> Any:
        out = np.empty(calls.shape(value), dtype)
        if out.nbytes:
            ctypes.memmove(address(out), calls.pointer(value), out.nbytes)
        return out

    return read


def _packed(calls: Calls, code: int) -> Reader:
    """4-bit elements, two to a byte in ORT, one to a byte (low nibble) as ml_dtypes stores them."""
    import numpy as np

    dtype = numpy_dtype(code)

    def read(value: int) -> Any:
        shape = calls.shape(value)
        count = int(np.prod(shape, dtype=np.int64))
        out = np.empty((count + 1) // 2, np.uint8)
        if out.nbytes:
            ctypes.memmove(address(out), calls.pointer(value), out.nbytes)
        nibbles = np.stack([out & 0x0F, out >> 4], axis=-1).reshape(-1)[:count]
        return nibbles.view(dtype).reshape(shape)

    return read


def _strings(calls: Calls) -> Reader:
    import numpy as np

    def read(value: int) -> Any:
        shape = calls.shape(value)
        count = 1
        for d in shape:
            count *= d
        return np.array(calls.strings(value, count), dtype=object).reshape(shape)

    return read


def _flat(calls: Calls, code: int) -> _Flat | None:
    """A reader of a 1-D tensor of element type ``code`` into a list, as a map's parts."""
    import numpy as np

    if code == _STRING:
        return calls.strings
    dtype = numpy_dtype(code)
    if dtype is None or dtype.kind not in "biuf":
        return None

    try:  # a ctypes array over ORT's memory lists its elements without a copy
        element = np.ctypeslib.as_ctypes_type(dtype)
    except NotImplementedError:  # float16: no ctypes type, a numpy copy
        element = None

    def read(value: int, count: int) -> list[Any]:
        if element is not None:
            return (element * count).from_address(calls.pointer(value))[:] if count else []
        out = np.empty(count, dtype)
        if count:
            ctypes.memmove(address(out), calls.pointer(value), out.nbytes)
        return out.tolist()

    return read


def _map(calls: Calls, keys: _Flat, values: _Flat) -> Reader:
    def read(value: int) -> dict[Any, Any]:
        key_value = calls.child(value, 0)
        try:
            item_value = calls.child(value, 1)
            try:
                count = calls.count(key_value)
                return dict(zip(keys(key_value, count), values(item_value, count), strict=True))
            finally:
                calls.release(item_value)
        finally:
            calls.release(key_value)

    return read


def _children(calls: Calls, value: int, count: int, item: Reader) -> list[Any]:
    """``item`` of each of ``value``'s first ``count`` children, each released after."""
    items = []
    for i in range(count):
        child = calls.child(value, i)
        try:
            items.append(item(child))
        finally:
            calls.release(child)
    return items


def _sequence(calls: Calls, item: Reader) -> Reader:
    return lambda value: _children(calls, value, _count_items(calls, value), item)


def _tensor_code(kind: str) -> int | None:
    return element_code(kind[7:-1]) if kind.startswith("tensor(") else None


def _tensor(calls: Calls, code: int, output: str) -> Reader:
    if code == _STRING:
        return _strings(calls)
    dtype = numpy_dtype(code)
    if dtype is None:
        known = element_code(element_name(code)) == code
        raise OrtApiError(
            f"output {output!r} is a tensor({element_name(code)}); "
            + ("install ml_dtypes to read it" if known else "this backend does not know the type"),
            "ORT_NOT_IMPLEMENTED",
        )
    return _packed(calls, code) if code in _PACKED else _numeric(calls, dtype)


def _typed(calls: Calls, kind: str) -> Reader | None:
    """The reader of a declared type, or None where ``read_any`` must ask."""
    code = _tensor_code(kind)
    if code is not None:
        dtype = numpy_dtype(code)
        return _tensor(calls, code, "") if dtype is not None or code == _STRING else None
    if kind.startswith("seq("):
        item = _typed(calls, kind[4:-1])
        return _sequence(calls, item) if item is not None else None
    if kind.startswith("map("):
        key, _, value = kind[4:-1].partition(",")
        key_code, value_code = element_code(key), _tensor_code(value)
        if key_code is None or value_code is None:
            return None
        keys, values = _flat(calls, key_code), _flat(calls, value_code)
        return _map(calls, keys, values) if keys and values else None
    return None


def reader_for(calls: Calls, kind: str, output: str) -> Reader:
    """How to read an output declared as ``kind`` (``describe_type``'s spelling)."""
    typed = _typed(calls, kind)
    if typed is not None:
        return typed
    return lambda value: read_any(calls, value, output)


def read_any(calls: Calls, value: int, output: str) -> Any:
    """A copy of ``value``, whatever it is: numpy (tensors), list (sequences), dict (maps),
    None (an empty optional); ORT is asked what it is at each level."""
    if not calls.query_int(calls.has_value, value):
        return None
    kind = calls.query_int(calls.value_type, value)
    if kind == _TENSOR:
        return _tensor(calls, calls.element(value), output)(value)
    if kind not in (_SEQUENCE, _MAP):
        raise OrtApiError(
            f"output {output!r} is an ONNX value of kind {kind} (opaque or sparse), which the "
            "C API backend does not convert",
            "ORT_NOT_IMPLEMENTED",
        )
    count = 2 if kind == _MAP else _count_items(calls, value)
    items = _children(calls, value, count, lambda child: read_any(calls, child, output))
    if kind == _MAP:
        return dict(zip(items[0].tolist(), items[1].tolist(), strict=True))
    return items


def _count_items(calls: Calls, value: int) -> int:
    count = ctypes.c_size_t()
    calls.check(calls.value_count(value, ctypes.addressof(count)))
    return count.value

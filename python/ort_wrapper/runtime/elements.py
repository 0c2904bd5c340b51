"""ONNX tensor element types and their numpy dtypes: the one table both backends read.

Each ``ONNXTensorElementDataType`` has ORT's name (``tensor(NAME)`` as a type string) and the
numpy dtype its values are held in. bfloat16, float8 and the 4-bit types are numpy dtypes only
through ml_dtypes, which is imported the first time such a type is asked for, never for a model
of plain types. The 4-bit types are stored packed, two to a byte, as ORT stores them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

__all__ = [
    "ELEMENTS",
    "PACKED",
    "STRING",
    "Element",
    "dtype_codes",
    "element_code",
    "element_name",
    "numpy_dtype",
    "plain_codes",
    "plain_dtype",
]


@dataclass(frozen=True)
class Element:
    """One element type: its code, ORT's name and the numpy dtype that holds it."""

    code: int  # ONNXTensorElementDataType
    name: str  # ORT's name: 'float', 'bfloat16', ...
    dtype: str  # numpy's name for the dtype, or ml_dtypes' attribute when ``ml_dtypes``
    ml_dtypes: bool = False  # numpy holds it only through ml_dtypes
    packed: bool = False  # 4-bit: two values to a byte in ORT's buffer


def _table(*rows: Element) -> dict[int, Element]:
    return {row.code: row for row in rows}


ELEMENTS: dict[int, Element] = _table(
    Element(1, "float", "float32"), Element(2, "uint8", "uint8"), Element(3, "int8", "int8"),
    Element(4, "uint16", "uint16"), Element(5, "int16", "int16"), Element(6, "int32", "int32"),
    Element(7, "int64", "int64"), Element(8, "string", "object"), Element(9, "bool", "bool"),
    Element(10, "float16", "float16"), Element(11, "double", "float64"),
    Element(12, "uint32", "uint32"), Element(13, "uint64", "uint64"),
    Element(14, "complex64", "complex64"), Element(15, "complex128", "complex128"),
    Element(16, "bfloat16", "bfloat16", ml_dtypes=True),
    Element(17, "float8e4m3fn", "float8_e4m3fn", ml_dtypes=True),
    Element(18, "float8e4m3fnuz", "float8_e4m3fnuz", ml_dtypes=True),
    Element(19, "float8e5m2", "float8_e5m2", ml_dtypes=True),
    Element(20, "float8e5m2fnuz", "float8_e5m2fnuz", ml_dtypes=True),
    Element(21, "uint4", "uint4", ml_dtypes=True, packed=True),
    Element(22, "int4", "int4", ml_dtypes=True, packed=True),
    Element(23, "float4e2m1", "float4_e2m1fn", ml_dtypes=True, packed=True),
)  # fmt: skip
STRING = 8
PACKED = frozenset(code for code, e in ELEMENTS.items() if e.packed)
_BY_NAME = {e.name: code for code, e in ELEMENTS.items()}


@cache
def numpy_dtype(code: int) -> Any:
    """The numpy dtype of an element type; None when the type is unknown, or needs ml_dtypes
    and that is not installed (imported here, only for such a type)."""
    import numpy as np

    element = ELEMENTS.get(code)
    if element is None:
        return None
    if not element.ml_dtypes:
        return np.dtype(element.dtype)
    try:
        import ml_dtypes
    except ImportError:
        return None
    return np.dtype(getattr(ml_dtypes, element.dtype))


@cache
def plain_codes() -> dict[Any, int]:
    """numpy's own dtypes -> element type: what an array passed as it is can be fed as (no
    ml_dtypes import; strings and 4-bit types, which need converting first, are not here)."""
    return {
        numpy_dtype(code): code
        for code, e in ELEMENTS.items()
        if not e.ml_dtypes and code != STRING
    }


@cache
def dtype_codes() -> dict[Any, int]:
    """Every numpy dtype -> element type, ml_dtypes' too (imported: ask only for an array whose
    dtype :func:`plain_codes` lacks). Strings are not here: any str/bytes/object array is one."""
    table = {numpy_dtype(code): code for code in ELEMENTS if code != STRING}
    table.pop(None, None)  # ml_dtypes is not installed
    return table


def plain_dtype(type_: str) -> Any:
    """The numpy dtype of a ``tensor(NAME)`` type string when numpy holds it without ml_dtypes
    (a string tensor's is ``object``); None for any other type (sequences, maps, bfloat16)."""
    if not (type_.startswith("tensor(") and type_.endswith(")")):
        return None
    code = _BY_NAME.get(type_[7:-1])
    return None if code is None or ELEMENTS[code].ml_dtypes else numpy_dtype(code)


def element_code(name: str) -> int | None:
    """The element type ORT calls ``name`` ('float', 'string', ...), or None."""
    return _BY_NAME.get(name)


def element_name(code: int) -> str:
    """ORT's name of an element type ('float', 'bfloat16', ...)."""
    element = ELEMENTS.get(code)
    return element.name if element is not None else f"element type {code}"

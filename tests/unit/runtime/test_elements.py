"""The one element-type table (runtime.elements) agrees with ONNX's own enum and numpy's dtypes,
and a model of plain types never imports ml_dtypes."""

from __future__ import annotations

import numpy as np
import onnx
import onnx.helper
import pytest

from ort_wrapper.runtime.elements import (
    ELEMENTS,
    PACKED,
    STRING,
    dtype_codes,
    element_code,
    element_name,
    numpy_dtype,
    plain_codes,
    plain_dtype,
)

from helpers import run_fresh


@pytest.mark.parametrize("code", sorted(ELEMENTS))
def test_each_code_is_onnx_s_element_type_of_that_name(code: int) -> None:
    assert onnx.TensorProto.DataType.Name(code).lower() == element_name(code)
    assert element_code(element_name(code)) == code


def test_every_onnx_element_type_is_in_the_table() -> None:
    known = {v for v in onnx.TensorProto.DataType.values() if v != onnx.TensorProto.UNDEFINED}
    assert {c for c in known if c <= max(ELEMENTS)} == set(ELEMENTS)


@pytest.mark.parametrize("code", [c for c, e in ELEMENTS.items() if not e.ml_dtypes])
def test_plain_types_are_the_dtypes_onnx_gives_them(code: int) -> None:
    assert numpy_dtype(code) == onnx.helper.tensor_dtype_to_np_dtype(code)


def test_ml_dtypes_types_are_ml_dtypes_own() -> None:
    ml_dtypes = pytest.importorskip("ml_dtypes")
    assert numpy_dtype(16) == np.dtype(ml_dtypes.bfloat16)
    assert numpy_dtype(23) == np.dtype(ml_dtypes.float4_e2m1fn)
    assert frozenset({21, 22, 23}) == PACKED
    assert all(dtype_codes()[numpy_dtype(c)] == c for c in ELEMENTS if c != STRING)


def test_type_strings_map_to_numpy_s_own_dtypes_only() -> None:
    assert plain_dtype("tensor(float)") == np.float32
    assert plain_dtype("tensor(string)") == np.dtype(object)
    assert plain_dtype("tensor(complex64)") == np.complex64
    for other in ("tensor(bfloat16)", "tensor(int4)", "seq(tensor(float))", "map(int64,float)"):
        assert plain_dtype(other) is None, other
    assert element_name(99) == "element type 99" and numpy_dtype(99) is None


def test_plain_codes_hold_no_strings_and_no_ml_dtypes_types() -> None:
    table = plain_codes()
    assert table[np.dtype(np.float32)] == 1 and table[np.dtype(bool)] == 9
    assert STRING not in table.values() and not set(table.values()) & PACKED
    assert all(not ELEMENTS[c].ml_dtypes for c in table.values())


def test_plain_types_never_import_ml_dtypes() -> None:
    done = run_fresh(
        """
        import sys
        from ort_wrapper.runtime import elements
        elements.plain_codes()
        for code in elements.ELEMENTS:
            elements.plain_dtype(f"tensor({elements.element_name(code)})")
            if not elements.ELEMENTS[code].ml_dtypes:
                elements.numpy_dtype(code)
        before = "ml_dtypes" in sys.modules
        elements.numpy_dtype(16)
        print(before, "ml_dtypes" in sys.modules)
        """
    )
    assert done.returncode == 0, done.stderr
    pytest.importorskip("ml_dtypes")
    assert done.stdout.split() == ["False", "True"]


@pytest.mark.parametrize("code", [c for c, e in ELEMENTS.items() if not e.ml_dtypes])
def test_check_makes_synthetic_feeds_of_every_plain_type(code: int) -> None:
    from ort_wrapper.check.models import synthetic_feeds
    from ort_wrapper.runtime.session import TensorInfo

    type_ = f"tensor({element_name(code)})"
    info = TensorInfo("x", type_, plain_dtype(type_), (2, "batch"))
    [feed] = synthetic_feeds([info], batch=3).values()
    assert feed.shape == (2, 3) and feed.dtype == numpy_dtype(code)

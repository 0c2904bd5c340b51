"""Outputs of every kind compared structurally and bitwise; reference outputs within
tolerances; synthetic inputs with fixed dimensions; one model's exception fails only its check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ort_wrapper.check import determinism
from ort_wrapper.check.compare import compare_reference, float_leaves, max_abs_diff, same_outputs
from ort_wrapper.check.determinism import ModelSource, determinism_section
from ort_wrapper.check.inputs import ModelSpec, resolve_inputs
from ort_wrapper.check.models import synthetic_feeds
from ort_wrapper.errors import InputError
from ort_wrapper.report import FAIL, PASS
from ort_wrapper.runtime.session import TensorInfo

ONE = np.float32(1.0)
ULP = float(np.nextafter(ONE, np.float32(2)))


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ([{0: 1.0, 1: 0.0}], [{0: 1.0, 1: 0.0}], True),
        ([{0: 1.0, 1: 0.0}], [{0: ULP, 1: 0.0}], False),  # one ULP inside a map in a sequence
        ([{0: 1.0}], [{1: 1.0}], False),  # other keys
        ({"a": 1.0}, [1.0], False),  # a map is not a sequence
        ([np.ones(2)], [np.ones(2), np.ones(2)], False),
        (None, None, True),  # empty optionals
        (None, np.ones(1), False),
        (float("nan"), float("nan"), True),  # the same NaN
        (0.0, -0.0, False),  # bitwise: the sign of zero counts
        (np.array(["a", "b"], object), np.array(["a", "b"], object), True),
        (np.array(["a", "b"], object), np.array(["a", "c"], object), False),
        (np.ones(2, np.float32), np.ones(2, np.float64), False),
        # strings as text, whichever side produced bytes (onnx's to_dict gives bytes keys)
        ([{b"setosa": 1.0}], [{"setosa": 1.0}], True),
        ([{b"setosa": 1.0}], [{"virginica": 1.0}], False),
        (np.array([b"a", b"b"], "S"), np.array(["a", "b"], object), True),
        (np.array(["a", "b"]), np.array(["a", "b"], object), True),  # a U tensor from a .npy
        (np.array([b"a", b"b"], object), np.array(["a", "c"], object), False),
        (np.array(["a", "b"], object), np.array(["a", "b"], object).reshape(2, 1), False),
        (b"\xff", "\xff", False),  # bytes that are not UTF-8 stay bytes
        ({1: 1.0}, {"1": 1.0}, False),  # an integer key is not a string key
        (np.array([1, 2], np.int64), np.array([1, 2], np.int32), False),  # integers as they were
    ],
)
def test_every_kind_is_compared_structurally_and_bitwise(a: Any, b: Any, same: bool) -> None:
    assert same_outputs({"y": a}, {"y": b}) is same


def test_drift_is_measured_inside_structures() -> None:
    a = {"p": [{0: 1.0, 1: 0.5}], "label": np.array([1], np.int64)}
    b = {"p": [{0: 1.0, 1: 0.75}], "label": np.array([1], np.int64)}
    assert max_abs_diff(a, b) == 0.25
    assert set(float_leaves(a)) == {"p[0]{0}", "p[0]{1}", "label"}


def test_reference_comparison_names_the_largest_difference() -> None:
    expected = {"y": np.array([[1.0, 2.0], [3.0, 4.0]], np.float32), "p": [{"cat": 0.5}]}
    got = {"y": np.array([[1.0, 2.0], [3.0, 4.5]], np.float32), "p": [{"cat": 0.5}]}
    y, p = compare_reference(expected, got)
    assert not y.ok and y.max_abs == 0.5 and y.where == "y[1, 1]" and y.mismatched == 1
    assert p.ok
    assert compare_reference(expected, got, atol=0.6)[0].ok  # tolerances are overridable
    [missing] = compare_reference({"z": np.ones(1)}, got)
    assert not missing.ok and "no such output" in missing.describe()
    [shape] = compare_reference({"y": np.ones(3, np.float32)}, got)
    assert not shape.ok and "shape [2, 2], expected [3]" in shape.describe()


def test_reference_strings_compare_as_text_and_name_the_first_difference() -> None:
    expected = {
        "label": np.array([b"setosa", b"versicolor"], object),
        "p": [{b"setosa": np.array(0.75, np.float32), b"virginica": np.array(0.25, np.float32)}],
    }
    got = {"label": np.array(["setosa", "versicolor"], object),
           "p": [{"setosa": 0.75, "virginica": 0.25}]}  # fmt: skip
    assert all(d.ok for d in compare_reference(expected, got))
    assert max_abs_diff(expected, got) == 0.0 and set(float_leaves(expected)) == set(
        float_leaves(got)
    )
    got["label"] = np.array(["setosa", "virginica"], object)
    got["p"] = [{"setosa": 0.75, "Virginica": 0.25}]
    label, p = compare_reference(expected, got)
    assert label.describe() == "label: values differ at [1]: 'virginica', expected 'versicolor'"
    assert p.describe().startswith("p: structure differs (missing [\"p[0]{'virginica'}\"]")
    [scalar] = compare_reference({"m": [{"k": "a"}]}, {"m": [{b"k": b"b"}]})
    assert scalar.describe() == "m: m[0]{'k'}: values differ: 'b', expected 'a'"
    [long] = compare_reference({"s": np.array("a" * 100, object)}, {"s": np.array("b", object)})
    assert long.describe() == f"s: values differ: 'b', expected '{'a' * 56}..."


def test_synthetic_dimensions_by_name_or_by_axis() -> None:
    info = TensorInfo("x", "tensor(float)", np.dtype("float32"), ("n", 3, None, "w"))
    feeds = synthetic_feeds([info], dims={"n": 1, "x[2]": 32, "w": 48})
    assert feeds["x"].shape == (1, 3, 32, 48)
    assert synthetic_feeds([info])["x"].shape == (8, 3, 8, 8)


class _Session:
    inputs = (TensorInfo("X", "tensor(float)", np.dtype("float32"), (2,)),)
    outputs = (TensorInfo("Y", "tensor(float)", np.dtype("float32"), (2,)),)


def test_given_inputs_are_real_and_bad_files_are_input_errors(tmp_path: Path) -> None:
    np.save(tmp_path / "X.npy", np.ones(2, np.float32))
    spec = ModelSpec(tmp_path / "m.onnx", input_dirs=(tmp_path,))
    inputs = resolve_inputs(spec, _Session())
    assert inputs.describe() == "real (--input)" and inputs.feeds["X"].tolist() == [1.0, 1.0]
    with pytest.raises(InputError, match=r"input 'X': .*no such file"):
        resolve_inputs(ModelSpec(tmp_path / "m.onnx", ((("X", tmp_path / "no.npy"),))), _Session())
    with pytest.raises(InputError, match="--expected needs the inputs"):
        resolve_inputs(ModelSpec(tmp_path / "m.onnx", expected=(("Y", tmp_path / "X.npy"),)),
                       _Session())  # fmt: skip
    assert resolve_inputs(None, _Session()).describe() == "synthetic (X [2])"


def test_one_models_exception_fails_only_that_models_check(monkeypatch: pytest.MonkeyPatch) -> None:
    from ort_wrapper.check.models import builtin_models

    real = determinism._thread_counts

    def thread_counts(model: ModelSource, feeds: Any) -> Any:
        if model.name == "broken":
            raise AttributeError("'list' object has no attribute 'dtype'")
        return real(model, feeds)

    monkeypatch.setattr(determinism, "_thread_counts", thread_counts)
    mlp = builtin_models()[0]
    models = [ModelSource("broken", data=mlp.data), ModelSource(mlp.name, data=mlp.data)]
    section = determinism_section(models, runs=3)
    by_model = {c.data["model"]: c for c in section.checks if c.status == FAIL}
    assert list(by_model) == ["broken"] and "AttributeError" in by_model["broken"].detail
    assert all(c.status != FAIL for c in section.checks if c.data["model"] == mlp.name)
    assert any(c.status == PASS for c in section.checks if c.data["model"] == mlp.name)


def test_determinism_and_stability_take_every_output_kind() -> None:
    from ort_wrapper.check.stability import stability_section

    import models

    kinds = ModelSource("kinds", data=models.every_output_kind_model().SerializeToString())
    for section in (determinism_section([kinds], runs=5), stability_section([kinds], runs=50)):
        assert section.status == PASS, section.to_json()
        assert all(c.data["model"] == "kinds" for c in section.checks)


def test_rejected_synthetic_inputs_say_so_in_the_models_table() -> None:
    """ONNX Runtime rejects the synthetic S (Reshape): the table says which inputs, and that they
    were rejected, where it once said '-'."""
    from ort_wrapper.check.stability import stability_section
    from ort_wrapper.check.summary import model_summary
    from ort_wrapper.report import Report

    import models

    model = ModelSource("reshape", data=models.bad_reshape_model().SerializeToString())
    sections = (determinism_section([model], runs=3), stability_section([model], runs=20))
    for section in sections:
        [check] = [c for c in section.checks if c.data["model"] == "reshape"]
        assert check.status == FAIL and check.detail.startswith("the synthetic input was rejected")
    [row] = model_summary(Report("check", "test", sections), ["reshape"]).rows
    assert row[1:5] == ("synthetic (X [6]; S [2]), rejected", "not run", "FAIL", "FAIL")

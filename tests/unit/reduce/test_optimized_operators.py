"""The operators ONNX Runtime's optimisers add, found by a real runtime (the installed wheel's
C library, as a plain-directory distribution) optimising a real model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

from ort_wrapper.errors import BuildError, InputError
from ort_wrapper.operators import Operator
from ort_wrapper.reduce.for_models import config_for_models

import models

WHEEL_LIB = Path(onnxruntime.__file__).parent / "capi"


def _conv_relu(path: Path) -> Path:
    """Conv followed by Relu: ORT's CPU optimisers fuse them (into its NCHWc Conv here)."""
    weight = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["c"]), helper.make_node("Relu", ["c"], ["y"])],
        "conv_relu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    onnx.save(model, str(path))
    return path


def test_without_a_runtime_only_the_models_own_operators(tmp_path: Path) -> None:
    config = config_for_models([_conv_relu(tmp_path / "m.onnx")])
    assert config.operators == {Operator("ai.onnx", 13, "Conv"), Operator("ai.onnx", 13, "Relu")}


def test_a_runtime_adds_the_fused_operators_it_makes(tmp_path: Path) -> None:
    model = _conv_relu(tmp_path / "m.onnx")
    config = config_for_models([model], WHEEL_LIB)
    added = {op for op in config.operators if op.domain.startswith("com.microsoft")}
    assert Operator("com.microsoft.nchwc", 1, "Conv") in added, sorted(config.operators)
    assert Operator("ai.onnx", 13, "Relu") in config.operators  # the model's own stay
    assert [m.name for m in config.models] == ["m.onnx"]


def test_a_model_the_runtime_refuses_is_named(tmp_path: Path) -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    graph = helper.make_graph([helper.make_node("NoSuchOp", ["x"], ["y"])], "g", [x], [x])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    bad = models.save(model, tmp_path / "bad.onnx")
    with pytest.raises(BuildError, match=r"bad\.onnx"):
        config_for_models([bad], WHEEL_LIB)


def test_a_dist_that_is_not_one_and_no_models_are_input_errors(tmp_path: Path) -> None:
    model = _conv_relu(tmp_path / "m.onnx")
    with pytest.raises(InputError, match="is not a distribution"):
        config_for_models([model], tmp_path)
    with pytest.raises(InputError, match="no models"):
        config_for_models([])

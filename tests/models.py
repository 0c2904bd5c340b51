"""Small ONNX models built at test time with onnx.helper (never downloaded)."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

__all__ = [
    "add_model",
    "bad_reshape_model",
    "every_output_kind_model",
    "external_data_model",
    "identity_chain_model",
    "matmul_model",
    "save",
    "string_identity_model",
    "zipmap_model",
]

# ONNX Runtime 1.23 reads IR version <= 11; pin what these models declare.
IR_VERSION = 10
OPSET = 17


def _model(graph: onnx.GraphProto) -> onnx.ModelProto:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def add_model(
    shape: tuple[int | str, ...] = (2, 3), elem: int = TensorProto.FLOAT
) -> onnx.ModelProto:
    """Z = X + Y, the one-op model used for overhead measurements."""
    x = helper.make_tensor_value_info("X", elem, list(shape))
    y = helper.make_tensor_value_info("Y", elem, list(shape))
    z = helper.make_tensor_value_info("Z", elem, list(shape))
    return _model(
        helper.make_graph([helper.make_node("Add", ["X", "Y"], ["Z"])], "add", [x, y], [z])
    )


def matmul_model(n: int = 64, seed: int = 0) -> onnx.ModelProto:
    """Y = relu(X @ W + B) with a fixed random W and B: one input, one output."""
    rng = np.random.default_rng(seed)
    w = helper.make_tensor(
        "W", TensorProto.FLOAT, [n, n], rng.standard_normal((n, n)).astype(np.float32).ravel()
    )
    b = helper.make_tensor("B", TensorProto.FLOAT, [n], rng.standard_normal(n).astype(np.float32))
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, ["batch", n])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["batch", n])
    nodes = [
        helper.make_node("MatMul", ["X", "W"], ["XW"]),
        helper.make_node("Add", ["XW", "B"], ["XWB"]),
        helper.make_node("Relu", ["XWB"], ["Y"]),
    ]
    return _model(helper.make_graph(nodes, "mlp", [x], [y], initializer=[w, b]))


def identity_chain_model(length: int = 3) -> onnx.ModelProto:
    """A chain of Identity nodes over a float vector: one input, one output."""
    names = ["X"] + [f"T{i}" for i in range(1, length)] + ["Y"]
    nodes = [helper.make_node("Identity", [a], [b]) for a, b in pairwise(names)]
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [4])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, [4])
    return _model(helper.make_graph(nodes, "chain", [x], [y]))


def every_output_kind_model() -> onnx.ModelProto:
    """X [2] float -> a tensor, a string tensor, a sequence of tensors, an empty and a full
    optional, and ZipMap's sequence of string-keyed maps."""
    float2 = helper.make_tensor_type_proto(TensorProto.FLOAT, [2])
    nodes = [
        helper.make_node("Identity", ["X"], ["tensor"]),
        helper.make_node("Constant", [], ["strings"], value=helper.make_tensor(
            "s", TensorProto.STRING, [2], [b"ab", b"c"])),
        helper.make_node("Neg", ["X"], ["minus"]),
        helper.make_node("SequenceConstruct", ["X", "minus"], ["sequence"]),
        helper.make_node("Optional", [], ["nothing"], type=float2),
        helper.make_node("Optional", ["X"], ["something"]),
        helper.make_node("Unsqueeze", ["X", "zero"], ["row"]),
        helper.make_node("ZipMap", ["row"], ["maps"], domain="ai.onnx.ml",
                         classlabels_strings=["cat", "dog"]),
    ]  # fmt: skip
    optional = helper.make_optional_type_proto(float2)
    outputs = [
        helper.make_tensor_value_info("tensor", TensorProto.FLOAT, [2]),
        helper.make_tensor_value_info("strings", TensorProto.STRING, [2]),
        helper.make_tensor_sequence_value_info("sequence", TensorProto.FLOAT, [2]),
        helper.make_value_info("nothing", optional),
        helper.make_value_info("something", optional),
        helper.make_value_info("maps", helper.make_sequence_type_proto(
            helper.make_map_type_proto(TensorProto.STRING, helper.make_tensor_type_proto(
                TensorProto.FLOAT, [])))),
    ]  # fmt: skip
    zero = helper.make_tensor("zero", TensorProto.INT64, [1], [0])
    graph = helper.make_graph(
        nodes, "kinds", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [2])], outputs,
        initializer=[zero],
    )  # fmt: skip
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)]
    )
    model.ir_version = 10
    onnx.checker.check_model(model)
    return model


def zipmap_model(
    rows: int = 100, labels: tuple[str, ...] = ("setosa", "versicolor", "virginica")
) -> onnx.ModelProto:
    """X [rows, len(labels)] float -> ZipMap's sequence of string-keyed maps, one per row (what a
    scikit-learn classifier converted by skl2onnx returns as probabilities)."""
    node = helper.make_node(
        "ZipMap", ["X"], ["maps"], domain="ai.onnx.ml", classlabels_strings=list(labels)
    )
    value = helper.make_tensor_type_proto(TensorProto.FLOAT, [])
    one_map = helper.make_map_type_proto(TensorProto.STRING, value)
    maps = helper.make_value_info("maps", helper.make_sequence_type_proto(one_map))
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [rows, len(labels)])
    model = helper.make_model(
        helper.make_graph([node], "zipmap", [x], [maps]),
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("ai.onnx.ml", 3)],
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def string_identity_model(n: int = 100) -> onnx.ModelProto:
    """S [n] string -> the same strings (a string tensor in, and one out)."""
    s = helper.make_tensor_value_info("S", TensorProto.STRING, [n])
    t = helper.make_tensor_value_info("T", TensorProto.STRING, [n])
    return _model(
        helper.make_graph([helper.make_node("Identity", ["S"], ["T"])], "strings", [s], [t])
    )


def bad_reshape_model() -> onnx.ModelProto:
    """Reshape X [6] to the runtime shape S: S = [4, -1] fails inside ONNX Runtime."""
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [6])
    s = helper.make_tensor_value_info("S", TensorProto.INT64, [2])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["a", "b"])
    graph = helper.make_graph([helper.make_node("Reshape", ["X", "S"], ["Y"])], "r", [x, s], [y])
    return _model(graph)


def external_data_model(path: Path, location: str, *, as_constant: bool = False) -> Path:
    """Y = X + W, with W's 6 floats kept in external data at ``location``."""
    w = helper.make_tensor("W", TensorProto.FLOAT, [2, 3], np.zeros(6, np.float32))
    w.ClearField("float_data")
    w.data_location = TensorProto.EXTERNAL
    entry = w.external_data.add()
    entry.key, entry.value = "location", location
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [2, 3])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, [2, 3])
    nodes = [helper.make_node("Add", ["X", "W"], ["Y"])]
    if as_constant:
        nodes.insert(0, helper.make_node("Constant", [], ["W"], value=w))
        graph = helper.make_graph(nodes, "g", [x], [y])
    else:
        graph = helper.make_graph(nodes, "g", [x], [y], initializer=[w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model.SerializeToString())
    return path


def save(model: onnx.ModelProto, path: Path) -> Path:
    """Serialise a model to ``path`` and return the path."""
    path.write_bytes(model.SerializeToString())
    return path

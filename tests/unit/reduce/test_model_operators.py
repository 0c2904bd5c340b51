"""The operators of real model files: subgraphs, local functions, domains and opsets."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from ort_wrapper.errors import InputError
from ort_wrapper.files import sha256_file
from ort_wrapper.operators import Operator
from ort_wrapper.reduce.models import model_operators

F = TensorProto.FLOAT


def _save(model: onnx.ModelProto, path: Path) -> Path:
    onnx.save(model, str(path))
    return path


def _if_model() -> onnx.ModelProto:
    branch = lambda op: helper.make_graph(  # noqa: E731
        [helper.make_node(op, ["x"], ["y"])], op, [], [helper.make_tensor_value_info("y", F, [2])]
    )
    node = helper.make_node(
        "If", ["c"], ["y"], then_branch=branch("Relu"), else_branch=branch("Neg")
    )
    graph = helper.make_graph(
        [node, helper.make_node("LinearClassifier", ["y"], ["l", "p"], domain="ai.onnx.ml",
                                coefficients=[1.0, 1.0], classlabels_ints=[0, 1])],
        "g",
        [helper.make_tensor_value_info("c", TensorProto.BOOL, []),
         helper.make_tensor_value_info("x", F, [2])],
        [helper.make_tensor_value_info("p", F, None)],
    )  # fmt: skip
    imports = [helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)]
    return helper.make_model(graph, opset_imports=imports)


def test_nodes_of_subgraphs_and_other_domains_count(tmp_path: Path) -> None:
    path = _save(_if_model(), tmp_path / "if.onnx")
    record, ops = model_operators(path)
    assert record.name == "if.onnx" and record.sha256 == sha256_file(path)
    assert ops == {
        Operator("ai.onnx", 17, "If"),
        Operator("ai.onnx", 17, "Relu"),
        Operator("ai.onnx", 17, "Neg"),
        Operator("ai.onnx.ml", 3, "LinearClassifier"),
    }


def test_a_local_function_counts_by_its_body_not_its_call(tmp_path: Path) -> None:
    body = helper.make_function(
        "local", "Twice", ["a"], ["b"], [helper.make_node("Add", ["a", "a"], ["b"])],
        [helper.make_opsetid("", 14)],
    )  # fmt: skip
    graph = helper.make_graph(
        [helper.make_node("Twice", ["x"], ["y"], domain="local")], "g",
        [helper.make_tensor_value_info("x", F, [2])], [helper.make_tensor_value_info("y", F, [2])],
    )  # fmt: skip
    model = helper.make_model(
        graph, functions=[body],
        opset_imports=[helper.make_opsetid("", 14), helper.make_opsetid("local", 1)],
    )  # fmt: skip
    assert model_operators(_save(model, tmp_path / "f.onnx"))[1] == {Operator("ai.onnx", 14, "Add")}


def test_not_a_model_and_a_missing_file_are_input_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x0a\xff\xff\xff\xff\xff garbage")
    with pytest.raises(InputError, match=r"junk\.onnx"):
        model_operators(junk)
    with pytest.raises(InputError, match="no such model"):
        model_operators(tmp_path / "absent.onnx")
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="no nodes"):
        model_operators(empty)


def test_a_domain_the_model_does_not_import_is_refused(tmp_path: Path) -> None:
    graph = helper.make_graph(
        [helper.make_node("Foo", ["x"], ["y"], domain="com.example")], "g",
        [helper.make_tensor_value_info("x", F, [2])], [helper.make_tensor_value_info("y", F, [2])],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(InputError, match=r"com\.example"):
        model_operators(_save(model, tmp_path / "d.onnx"))


def _shadowing_model() -> onnx.ModelProto:
    """Local functions that shadow operators: ``Relu`` in the ONNX domain and ``Normalizer`` in
    ai.onnx.ml (ORT runs the standard ones), and ``local.Relu`` (ORT runs the function), each
    with a Neg body; only the last contributes Neg."""

    def neg(domain: str, name: str) -> onnx.FunctionProto:
        return helper.make_function(domain, name, ["a"], ["b"],
                                    [helper.make_node("Neg", ["a"], ["b"])],
                                    [helper.make_opsetid("", 17)])  # fmt: skip

    nodes = [
        helper.make_node("Relu", ["x"], ["r"]),
        helper.make_node("Normalizer", ["r"], ["n"], domain="ai.onnx.ml", norm="MAX"),
        helper.make_node("Relu", ["n"], ["y"], domain="local"),
    ]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", F, [1, 2])],
        [helper.make_tensor_value_info("y", F, [1, 2])],
    )  # fmt: skip
    imports = [helper.make_opsetid(d, v) for d, v in (("", 17), ("ai.onnx.ml", 3), ("local", 1))]
    model = helper.make_model(
        graph, opset_imports=imports,
        functions=[neg("", "Relu"), neg("ai.onnx.ml", "Normalizer"), neg("local", "Relu")],
    )  # fmt: skip
    model.ir_version = 10
    return model


def test_reduce_config_lists_what_onnx_runtime_runs(tmp_path: Path, run_cli) -> None:
    """ORT's saved model with no optimisation is the graph it runs, local functions inlined: the
    operators there are the ones reduce-config lists (and the output shows which ran)."""
    import numpy as np
    import onnxruntime as ort

    path = _save(_shadowing_model(), tmp_path / "shadow.onnx")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.optimized_model_filepath = str(tmp_path / "ran.onnx")
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    [y] = session.run(None, {"x": np.array([[-2.0, 4.0]], np.float32)})
    assert y.tolist() == [[-0.0, -1.0]]  # Relu, Normalizer(MAX), then local.Relu's Neg
    ran = {n.op_type for n in onnx.load(str(tmp_path / "ran.onnx")).graph.node}
    assert ran == {"Relu", "Normalizer", "Neg"}
    listed = {op.name for op in model_operators(path)[1]}
    assert listed == ran
    done = run_cli("reduce-config", str(path), "--out", str(tmp_path / "ops.config"))
    assert done.returncode == 0, done.stderr
    lines = (tmp_path / "ops.config").read_text().splitlines()
    assert {"ai.onnx;17;Neg,Relu", "ai.onnx.ml;3;Normalizer"} <= set(lines), lines

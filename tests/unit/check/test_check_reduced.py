"""``check`` on a distribution whose manifest says it is reduced: the installed wheel described
by a manifest that claims a reduction to the Add model's operators (the library itself is
full, so what is tested is check's handling: which cases and models it runs, and how it names
a model outside the set)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ort_wrapper.check.options import CheckOptions
from ort_wrapper.check.run import run_check
from ort_wrapper.manifest import load_manifest
from ort_wrapper.operators import Operator, OperatorConfig
from ort_wrapper.reduce.models import model_operators

import models


def _softmax(path: Path) -> Path:
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])
    graph = helper.make_graph([helper.make_node("Softmax", ["x"], ["y"])], "s", [x], [y])
    return models.save(models._model(graph), path)


def test_check_runs_what_the_reduced_build_registers(
    make_wheel_prefix, add_model_path: Path, tmp_path: Path
) -> None:
    root = make_wheel_prefix(tmp_path / "dist")
    record, used = model_operators(add_model_path)
    manifest = load_manifest(root)
    dataclasses.replace(manifest, reduced_for=OperatorConfig.of(used, [record])).write(root)
    softmax = _softmax(tmp_path / "softmax.onnx")
    options = CheckOptions(
        sections=("quality", "determinism"), models=(add_model_path, softmax), quiet=True,
        determinism_runs=2, determinism_seconds=5,
    )  # fmt: skip
    report = run_check(root, options)
    checks = {c.name: c for s in report.sections for c in s.checks}
    cases = checks["cases in the reduced build"]
    assert cases.status == "info" and " of " in cases.detail
    assert int(cases.detail.split()[0]) >= 1  # node/test_add at least
    assert checks["conformance on CPUExecutionProvider"].status == "pass"
    assert checks[f"operators of {add_model_path}"].status == "pass"
    failed = checks[f"operators of {softmax}"]
    softmax_op = Operator("ai.onnx", used.pop().opset, "Softmax")
    assert failed.status == "fail" and str(softmax_op) in failed.detail
    assert checks["reduced build"].data["models"] == [{"name": "add.onnx", "sha256": record.sha256}]
    ran = " ".join(c.name for c in report.sections[-1].checks)
    assert "mlp" not in ran and "conv" not in ran  # the harness's own models need other kernels

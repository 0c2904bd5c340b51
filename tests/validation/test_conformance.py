"""Validation: the harness's conformance counts equal a plain onnxruntime loop's over the same
cases. The loop below is written independently of ort_wrapper.check on purpose: onnxruntime,
onnx's numpy_helper and onnx's own comparison, nothing else."""

from __future__ import annotations

import glob
import os
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper
from onnx.backend.test.loader import load_model_tests
from onnx.backend.test.runner import Runner

SUITES = ("node", "simple", "pytorch-converted", "pytorch-operator")  # onnx's own kinds
_DATA = Path(onnx.__file__).parent / "backend" / "test" / "data" / "node"

pytestmark = pytest.mark.skipif(not _DATA.is_dir(), reason=f"onnx ships no backend data ({_DATA})")


def _value(path: str, type_proto: onnx.TypeProto) -> object:
    raw = Path(path).read_bytes()
    if type_proto.HasField("sequence_type"):
        proto = onnx.SequenceProto.FromString(raw)
        return numpy_helper.to_list(proto)
    if type_proto.HasField("optional_type"):
        return numpy_helper.to_optional(onnx.OptionalProto.FromString(raw))
    array = numpy_helper.to_array(onnx.TensorProto.FromString(raw))
    if isinstance(array, np.ndarray) and array.dtype.fields:  # bfloat16, float8, 4-bit
        kind = onnx.helper.np_dtype_to_tensor_dtype(array.dtype)
        return ort.OrtValue.ortvalue_from_numpy_with_onnx_type(array.view(array.dtype.base), kind)
    return array


def _plain(model_dir: str, rtol: float, atol: float) -> str:
    path = os.path.join(model_dir, "model.onnx")
    try:
        model = onnx.load(path)
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        for data in sorted(glob.glob(os.path.join(model_dir, "test_data_set*"))):
            n_in = len(glob.glob(os.path.join(data, "input_*.pb")))
            n_out = len(glob.glob(os.path.join(data, "output_*.pb")))
            # input_i.pb is the i-th graph input (onnx's convention): feed it by that NAME, not
            # by the session's input order, which can differ (initializers listed as inputs).
            feeds = {
                model.graph.input[i].name: _value(f"{data}/input_{i}.pb", model.graph.input[i].type)
                for i in range(n_in)
            }
            expected = [
                _value(f"{data}/output_{i}.pb", model.graph.output[i].type) for i in range(n_out)
            ]
            got = session.run(None, feeds)
            try:
                Runner.assert_similar_outputs(expected, got, rtol=rtol, atol=atol)
            except AssertionError:
                return "fail"
    except Exception:  # anything else is an error, as in the harness
        return "error"
    return "pass"


def test_counts_equal_a_plain_onnxruntime_loop() -> None:
    ort.set_default_logger_severity(4)
    plain = {}
    for suite in SUITES:
        for case in load_model_tests(kind=suite):
            if case.model_dir and glob.glob(os.path.join(case.model_dir, "test_data_set*")):
                plain[f"{suite}/{case.name}"] = _plain(case.model_dir, case.rtol, case.atol)
    from ort_wrapper.check.cases import backend_cases  # the harness, only after the plain loop
    from ort_wrapper.check.conformance import run_cases

    harness = {
        r.case: r.status for r in run_cases(backend_cases(), "CPUExecutionProvider", quiet=True)
    }
    assert Counter(harness.values()) == Counter(plain.values())
    assert harness == plain
    node = Counter(v for k, v in plain.items() if k.startswith("node/"))
    assert sum(node.values()) == 1450 and node["pass"] > 1200  # the onnx 1.18.0 node data

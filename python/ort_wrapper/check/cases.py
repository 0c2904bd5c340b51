"""ONNX backend test cases as shipped by the onnx wheel, run through a distribution.

Cases, tolerances and the output comparison are onnx's own (``onnx.backend.test.loader`` and
``Runner.assert_similar_outputs``); this module only feeds the data sets to a Session. Tensors of
onnx's custom element types (bfloat16, float8, 4-bit) are fed as OrtValues of the right ONNX
type, since numpy cannot carry them.
"""

from __future__ import annotations

import glob
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BackendLimitError
from ..runtime.session import SessionBuilder
from .inputs import read_pb

__all__ = [
    "SUITES",
    "UNSUPPORTED",
    "BackendCase",
    "CaseResult",
    "backend_cases",
    "backend_data_problem",
    "run_case",
]

log = logging.getLogger(__name__)

SUITES = ("node", "simple", "pytorch-converted", "pytorch-operator")
PASSED, FAILED, ERRORED = "pass", "fail", "error"
# the backend cannot feed the case's inputs (the C API makes no optional values): not compared
UNSUPPORTED = "unsupported"


@dataclass(frozen=True)
class BackendCase:
    """One onnx backend test case with its data sets on disk."""

    suite: str
    name: str
    model_dir: Path
    rtol: float
    atol: float

    @property
    def id(self) -> str:
        """'node/test_abs'."""
        return f"{self.suite}/{self.name}"


@dataclass(frozen=True)
class CaseResult:
    """pass (every data set within tolerance), fail (an output differs), error (load/run), or
    unsupported (the backend cannot express an input)."""

    case: str
    status: str
    message: str = ""
    outputs: tuple[tuple[Any, ...], ...] | None = None  # per data set, when kept


def backend_data_problem() -> str | None:
    """Why the backend test data cannot be used (None when it can)."""
    from .models import onnx_problem

    problem = onnx_problem()
    if problem:
        return problem
    import onnx

    data = Path(onnx.__file__).parent / "backend" / "test" / "data" / "node"
    if not data.is_dir():
        return (
            f"onnx {onnx.__version__} ships no backend test data ({data} is absent; newer onnx "
            "wheels generate the cases in memory): install onnx==1.18.0, the version ONNX "
            "Runtime 1.23 was built with"
        )
    return None


def backend_cases(suites: Sequence[str] = SUITES) -> tuple[BackendCase, ...]:
    """The cases of ``suites`` that have data on disk, in onnx's order."""
    from onnx.backend.test.loader import load_model_tests

    cases = []
    for suite in suites:
        for test in load_model_tests(kind=suite):
            if test.model_dir and glob.glob(os.path.join(test.model_dir, "test_data_set*")):
                cases.append(
                    BackendCase(suite, test.name, Path(test.model_dir), test.rtol, test.atol)
                )
    return tuple(cases)


def _load_value(path: str, type_proto: Any) -> Any:
    kind = (
        "seq"
        if type_proto.HasField("sequence_type")
        else "optional"
        if type_proto.HasField("optional_type")
        else "tensor"
    )
    return read_pb(Path(path), kind)


def _feedable(value: Any) -> Any:
    """numpy arrays of onnx's custom element types become OrtValues of that ONNX type."""
    dtype = getattr(value, "dtype", None)
    if dtype is None or not dtype.fields:
        return value
    from onnx.helper import np_dtype_to_tensor_dtype

    from ..runtime.loader import active_runtime

    runtime = active_runtime()  # the C API backend takes (array, type); pybind an OrtValue
    make = getattr(runtime, "typed_feed", None) or (
        runtime.OrtValue.ortvalue_from_numpy_with_onnx_type
    )
    return make(value.view(dtype.base), np_dtype_to_tensor_dtype(dtype))


def _data_sets(case: BackendCase, model: Any) -> list[tuple[dict[str, Any], list[Any]]]:
    """Per data set: the inputs by name (``input_i.pb`` is ``model.graph.input[i]``, as onnx's
    backend runner reads them) and the expected outputs in order."""
    sets = []
    for directory in sorted(glob.glob(os.path.join(case.model_dir, "test_data_set*"))):
        n_in = len(glob.glob(os.path.join(directory, "input_*.pb")))
        n_out = len(glob.glob(os.path.join(directory, "output_*.pb")))
        inputs = {
            model.graph.input[i].name: _load_value(
                os.path.join(directory, f"input_{i}.pb"), model.graph.input[i].type
            )
            for i in range(n_in)
        }
        outputs = [
            _load_value(os.path.join(directory, f"output_{i}.pb"), model.graph.output[i].type)
            for i in range(n_out)
        ]
        sets.append((inputs, outputs))
    return sets


def run_case(case: BackendCase, provider: str, keep_outputs: bool = False) -> CaseResult:
    """Run every data set of ``case`` on ``provider`` and compare with the reference outputs."""
    import onnx
    from onnx.backend.test.runner import Runner

    model_path = case.model_dir / "model.onnx"
    kept = []
    try:
        model = onnx.load(str(model_path), load_external_data=False)
        session = SessionBuilder.from_file(model_path).with_providers(provider).build()
        for inputs, expected in _data_sets(case, model):
            feeds = {n: _feedable(v) for n, v in inputs.items()}
            got = list(session.run(feeds).values())
            if keep_outputs:
                kept.append(tuple(got))
            try:
                Runner.assert_similar_outputs(expected, got, rtol=case.rtol, atol=case.atol)
            except AssertionError as exc:
                return CaseResult(case.id, FAILED, _first_line(exc, model_path))
    except BackendLimitError as exc:
        return CaseResult(case.id, UNSUPPORTED, _first_line(exc, model_path))
    except Exception as exc:  # a case must not stop the run: anything is an error
        return CaseResult(case.id, ERRORED, _first_line(exc, model_path))
    return CaseResult(case.id, PASSED, "", tuple(kept) if keep_outputs else None)


def _first_line(exc: BaseException, model_path: Path) -> str:
    text = str(exc).strip().replace(f"{model_path}: ", "").replace(str(model_path), "model")
    return (text or type(exc).__name__).splitlines()[0][:300]

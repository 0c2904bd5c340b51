"""Failure paths of the quality, determinism, stability and worker plumbing, driven with fake
results and fake sessions, so each verdict is shown to be able to FAIL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ort_wrapper.check import determinism, stability
from ort_wrapper.check import run as run_module
from ort_wrapper.check.baselines import write_baseline
from ort_wrapper.check.cases import BackendCase, CaseResult
from ort_wrapper.check.conformance import _conformance_check, cross_check, load_baselines
from ort_wrapper.check.determinism import ModelSource, determinism_section
from ort_wrapper.check.options import CheckOptions
from ort_wrapper.check.run import _collect
from ort_wrapper.check.stability import stability_section
from ort_wrapper.report import FAIL, INFO, PASS, Section

GPU = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


def _cases(n: int) -> list[BackendCase]:
    return [BackendCase("node", f"test_{i}", Path("/nowhere"), 1e-3, 1e-7) for i in range(n)]


def _passing(cases: list[BackendCase], value: float = 1.0) -> list[CaseResult]:
    out = ((np.array([value], dtype=np.float32),),)
    return [CaseResult(c.id, "pass", "", out) for c in cases]


def test_a_gpu_erroring_on_every_case_fails_the_cross_check() -> None:
    cases = _cases(5)
    gpu = [CaseResult(c.id, "error", "CUDA failure 100: no device") for c in cases]
    check = cross_check(cases, _passing(cases), gpu, GPU)
    assert check.status == FAIL
    assert len(check.data["passOnCpuOnly"]) == 5 and check.data["compared"] == 0


def test_cross_check_accepts_what_the_providers_baseline_lists(tmp_path: Path) -> None:
    cases = _cases(3)
    gpu = [*_passing(cases)[:2], CaseResult(cases[2].id, "fail", "differs")]
    write_baseline("9.9.9", "1.0.0", GPU, gpu, tmp_path)
    baseline = load_baselines([GPU], "1.0.0", "9.9.9", tmp_path)[0][GPU]
    check, _ = _conformance_check(gpu, GPU, "1.0.0", "9.9.9", baseline)
    assert check.status == PASS and baseline is not None
    assert cross_check(cases, _passing(cases), gpu, GPU, baseline).status == PASS
    assert cross_check(cases, _passing(cases), gpu, GPU, None).status == FAIL


def test_cross_check_fails_on_outputs_that_differ() -> None:
    cases = _cases(2)
    check = cross_check(cases, _passing(cases, 1.0), _passing(cases, 2.0), GPU)
    assert check.status == FAIL and len(check.data["differing"]) == 2
    assert cross_check(cases, _passing(cases), _passing(cases), GPU).status == PASS


def test_no_baseline_is_info_and_a_regression_fails(tmp_path: Path) -> None:
    cases = _cases(3)
    results = _passing(cases)
    baselines, unusable = load_baselines([GPU], "1.0.0", "9.9.9", tmp_path)
    assert baselines == {GPU: None} and unusable == ()
    check, _ = _conformance_check(results, GPU, "1.0.0", "9.9.9", None)
    assert check.status == INFO
    write_baseline("9.9.9", "1.0.0", GPU, results, tmp_path)
    worse = [*results[:2], CaseResult(cases[2].id, "error", "boom")]
    baseline = load_baselines([GPU], "1.0.0", "9.9.9", tmp_path)[0][GPU]
    check, _ = _conformance_check(worse, GPU, "1.0.0", "9.9.9", baseline)
    assert check.status == FAIL and "node/test_2" in check.data["regressions"]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("{not json", "unreadable"),
        (json.dumps({"ort": "9.9.9", "onnx": "1.0.0", "provider": CPU, "cases": 3}), "lacks known"),
        (json.dumps([1, 2]), "not a JSON object"),
    ],
)
def test_a_corrupt_baseline_fails_the_check(tmp_path: Path, text: str, words: str) -> None:
    """Read before any case runs: an unusable baseline is a FAIL naming its file, and a
    usable one beside it is still read."""
    (tmp_path / f"ort-9.9.9-onnx-1.0.0-{CPU}.json").write_text(text)
    write_baseline("9.9.9", "1.0.0", GPU, _passing(_cases(3)), tmp_path)
    baselines, unusable = load_baselines([CPU, GPU], "1.0.0", "9.9.9", tmp_path)
    assert CPU not in baselines and baselines[GPU] is not None
    (check,) = unusable
    assert check.status == FAIL and words in check.detail and check.fix
    assert check.data["baseline"] == str(tmp_path / f"ort-9.9.9-onnx-1.0.0-{CPU}.json")


def test_baseline_cases_that_were_not_run_fail(tmp_path: Path) -> None:
    cases = _cases(4)
    results = [*_passing(cases)[:3], CaseResult(cases[3].id, "fail", "x")]
    write_baseline("9.9.9", "1.0.0", CPU, results, tmp_path)
    baseline = load_baselines([CPU], "1.0.0", "9.9.9", tmp_path)[0][CPU]
    check, _ = _conformance_check(results[:3], CPU, "1.0.0", "9.9.9", baseline)
    assert check.status == FAIL
    assert check.data["absent"] == ["node/test_3"]
    assert "ran 3 cases, the baseline has 4" in check.detail


# -- determinism and stability with fake sessions -------------------------------------------


class _FakeSession:
    """A session whose output is ``make(call number)``."""

    inputs: tuple[Any, ...] = ()

    def __init__(self, make: Any) -> None:
        self.make, self.calls = make, 0

    def run(self, feeds: dict[str, Any]) -> dict[str, Any]:
        self.calls += 1
        return {"Y": self.make(self.calls)}


class _FakeBuilder:
    def __init__(self, make: Any) -> None:
        self.make = make

    def with_providers(self, *_: Any, **__: Any) -> _FakeBuilder:
        return self

    def intra_op_threads(self, _: int) -> _FakeBuilder:
        return self

    def build(self) -> _FakeSession:
        return _FakeSession(self.make)


class _FakeModel(ModelSource):
    def builder(self) -> Any:  # type: ignore[override]
        return _FakeBuilder(self.data)  # ``data`` holds the output maker here


def test_outputs_that_drift_fail_determinism() -> None:
    drifting = _FakeModel("fake:drift", data=lambda n: np.array([float(n)], np.float32))  # type: ignore[arg-type]
    section = determinism_section([drifting], runs=5)
    checks = {c.name: c for c in section.checks}
    assert section.status == FAIL
    assert checks["fake:drift: 5 runs, one session"].status == FAIL
    assert "intraOpThreads" in checks["fake:drift: 5 runs, one session"].data


def test_one_failing_configuration_keeps_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    steady = _FakeModel("fake:steady", data=lambda n: np.ones(2, np.float32))  # type: ignore[arg-type]
    real = determinism._session

    def session(model: ModelSource, provider: str = CPU, threads: int | None = None) -> Any:
        if threads == 2 or provider == GPU:
            raise RuntimeError(f"no {threads or provider}")
        return real(model, provider, threads)

    monkeypatch.setattr(determinism, "_session", session)
    section = determinism_section([steady], runs=3, gpus=(GPU,))
    checks = {c.name: c for c in section.checks}
    assert checks["fake:steady: 3 runs, one session"].status == PASS
    assert checks["fake:steady: two sessions"].status == PASS
    threads = checks["fake:steady: thread counts 1, 2, 4"]
    assert threads.status == FAIL and "2 threads: RuntimeError: no 2" in threads.detail
    assert checks[f"fake:steady: {GPU} spread"].status == FAIL
    assert section.status == FAIL


def test_memory_growth_fails_stability(monkeypatch: pytest.MonkeyPatch) -> None:
    steady = _FakeModel("fake:steady", data=lambda n: np.ones(2, np.float32))  # type: ignore[arg-type]
    sizes = iter([100 << 20, 120 << 20])
    monkeypatch.setattr(stability, "resident_bytes", lambda: next(sizes))
    section = stability_section([steady], runs=40)
    check = section.checks[0]
    assert section.status == FAIL and "resident memory grew 20.0%" in check.detail
    assert check.data["bytesPerRun"] == pytest.approx((20 << 20) / 40)


def test_an_output_that_changes_shape_fails_stability_without_crashing() -> None:
    shapes = _FakeModel("fake:shape", data=lambda n: np.ones(2 if n < 30 else 3, np.float32))  # type: ignore[arg-type]
    section = stability_section([shapes], runs=40)
    assert section.status == FAIL and "changed shape" in section.checks[0].detail


# -- worker results and options ---------------------------------------------------------------


def test_the_worker_results_are_read_back() -> None:
    done = Section("providers", ())
    assert _collect([done.to_json()]) == {"providers": done}
    assert _collect(None) == {} and _collect({"not": "sections"}) == {}


def test_after_a_crash_the_next_sections_run_in_a_new_worker(monkeypatch) -> None:
    """The section the worker died in fails with how it ended; the ones after it are run by a
    new worker instead of failing with it."""
    calls = []

    def one_worker(target, options, interpreter):
        calls.append(options.sections)
        if len(calls) == 1:  # finishes providers, dies in quality
            return {"providers": Section("providers", ())}, "killed by signal 8", False
        return {n: Section(n, ()) for n in options.sections}, "exited with 0", False

    monkeypatch.setattr(run_module, "_one_worker", one_worker)
    monkeypatch.setattr(run_module, "interpreter_for", lambda target: ("python", {}))
    options = CheckOptions(sections=("providers", "quality", "determinism", "stability"))
    sections = run_module.run_worker(None, options)  # type: ignore[arg-type]
    assert calls == [("providers", "quality", "determinism", "stability"),
                     ("determinism", "stability")]  # fmt: skip
    assert [s.name for s in sections] == ["providers", "quality", "determinism", "stability"]
    assert sections[1].status == FAIL and "signal 8" in sections[1].checks[0].detail
    assert all(s.status != FAIL for s in (sections[0], *sections[2:]))


def test_sections_are_deduplicated() -> None:
    assert CheckOptions(sections=("linking", "linking", "quality")).sections == (
        "linking",
        "quality",
    )


def test_options_carry_each_models_inputs_to_the_worker() -> None:
    from ort_wrapper.check.inputs import ModelSpec

    spec = ModelSpec(Path("m.onnx"), (("x", Path("x.npy")),), (Path("d"),),
                     (("y", Path("y.npy")),), (("n", 4),))  # fmt: skip
    options = CheckOptions(models=(spec, Path("plain.onnx")), rtol=0.5, stability_seconds=2)
    assert options.models[1] == ModelSpec(Path("plain.onnx"))  # a bare path: synthetic inputs
    again = CheckOptions.from_json(json.loads(json.dumps(options.to_json())))
    assert again == options
    with pytest.raises(ValueError, match="time limits"):
        CheckOptions(determinism_seconds=0)

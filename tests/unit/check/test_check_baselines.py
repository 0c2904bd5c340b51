"""Baselines: a regression fails, an improvement is reported, a known gap is neither."""

from __future__ import annotations

import json
from pathlib import Path

from ort_wrapper.check.baselines import BASELINE_DIR, compare, load_baseline, write_baseline
from ort_wrapper.check.cases import CaseResult


def _results(**statuses: str) -> list[CaseResult]:
    return [CaseResult(name, status) for name, status in statuses.items()]


def test_write_then_compare(tmp_path: Path) -> None:
    write_baseline(
        "9.9.9",
        "1.0.0",
        "CPUExecutionProvider",
        _results(a="pass", b="fail", c="error", d="pass"),
        tmp_path,
    )
    baseline = load_baseline("9.9.9", "1.0.0", "CPUExecutionProvider", tmp_path)
    assert baseline is not None and baseline.known == {"b": "fail", "c": "error"}
    diff = compare(_results(a="fail", b="pass", c="fail", d="pass"), baseline)
    assert [r.case for r in diff.regressions] == ["a"]
    assert diff.improvements == ("b",)
    assert diff.changed == ("c: error -> fail",)
    same = compare(_results(a="pass", b="fail", c="error", d="pass"), baseline)
    assert not same.regressions and not same.improvements and not same.changed


def test_no_baseline_for_other_versions(tmp_path: Path) -> None:
    assert load_baseline("1.23.2", "1.18.0", "CUDAExecutionProvider", tmp_path) is None


def test_committed_cpu_baseline_is_consistent() -> None:
    path = BASELINE_DIR / "ort-1.23.2-onnx-1.18.0-CPUExecutionProvider.json"
    data = json.loads(path.read_text())
    counts = data["counts"]
    assert counts["pass"] + counts["fail"] + counts["error"] == data["cases"]
    assert len(data["known"]) == counts["fail"] + counts["error"]
    assert set(data["known"].values()) <= {"fail", "error"}

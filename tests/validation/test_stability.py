"""Validation: stability runs, with the resident-memory figure measured."""

from __future__ import annotations

from pathlib import Path

from ort_wrapper.check.determinism import ModelSource
from ort_wrapper.check.models import builtin_models
from ort_wrapper.check.stability import resident_bytes, stability_section


def test_builtin_models_are_stable() -> None:
    models = [ModelSource(m.name, data=m.data) for m in builtin_models()]
    section = stability_section(models, runs=300)
    assert section.status == "pass", section.to_json()
    for check in section.checks:
        assert check.data["runs"] == 300
        assert check.data["rssAfterKiB"] > 0 and abs(check.data["rssGrowth"]) < 0.05


def test_missing_model_fails_with_the_reason(tmp_path: Path) -> None:
    section = stability_section([ModelSource("gone", path=str(tmp_path / "gone.onnx"))], runs=5)
    assert section.status == "fail"
    assert "no such file" in section.checks[0].detail


def test_resident_bytes_grows_with_a_touched_allocation() -> None:
    before = resident_bytes()
    block = bytearray(64 * 2**20)
    block[::4096] = b"x" * len(block[::4096])
    assert resident_bytes() - before > 32 * 2**20

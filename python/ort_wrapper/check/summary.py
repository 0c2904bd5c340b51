"""One table for a folder of models: per model, the inputs used and each section's verdict."""

from __future__ import annotations

from collections.abc import Sequence

from ..report import FAIL, Report, Table

__all__ = ["model_summary"]

COLUMNS = ("model", "inputs", "quality", "determinism", "stability", "time s")


def _verdict(report: Report, section: str, model: str) -> tuple[str, float, str | None]:
    """'pass'/'FAIL'/'-' for ``model``'s checks in ``section``, their seconds and inputs."""
    try:
        checks = [c for c in report.section(section).checks if c.data.get("model") == model]
    except KeyError:
        return "not run", 0.0, None
    if not checks:
        return "-", 0.0, None
    status = "FAIL" if any(c.status == FAIL for c in checks) else "pass"
    inputs = next((c.data["inputs"] for c in checks if "inputs" in c.data), None)
    return status, float(checks[0].data.get("modelSeconds", 0.0)), inputs


def model_summary(report: Report, models: Sequence[str]) -> Table:
    """A row per model of ``models`` (names as the report's checks record them)."""
    rows = []
    for model in models:
        verdicts = [_verdict(report, s, model) for s in ("quality", "determinism", "stability")]
        inputs = next((i for _, _, i in verdicts if i), "-")
        seconds = sum(s for _, s, _ in verdicts)
        rows.append((model, inputs, *(v for v, _, _ in verdicts), f"{seconds:.1f}"))
    return Table("models", COLUMNS, tuple(rows))

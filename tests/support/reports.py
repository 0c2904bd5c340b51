"""Reading the JSON form of a doctor or check report (``ort_wrapper.report.Report.to_json``)."""

from __future__ import annotations

from typing import Any

__all__ = ["checks", "data"]


def checks(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Every check of every section, in order."""
    return [c for section in report["sections"] for c in section["checks"]]


def data(report: dict[str, Any], section: str) -> dict[str, Any]:
    """The structured facts of the section called ``section``."""
    (found,) = [s for s in report["sections"] if s["name"] == section]
    return found["data"]

"""``--check``: a quick rerun's ratios against those docs/performance.md records.

A benchmark names each ratio by the first cell of the docs table row that records it, so the
docs are the one record; a ratio more than TOLERANCE above its recorded value fails the check.
Ratios below the recorded ones pass (update the docs when the change is meant).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DOC", "TOLERANCE", "check", "load", "recorded_ratios"]

DOC = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
# Quick reruns on the 2-core machine move a ratio (of least disturbed batches) by up to 8 % at a
# load of 5 to 6; one more os.stat() on the infer() hit path adds about 25 %.
TOLERANCE = 0.15


def load() -> str:
    """'load 0.42 on 2 cores': the one-minute load average, to print beside every figure."""
    return f"load {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _ratio(cell: str) -> float | None:
    try:
        return float(cell.strip("*✔✘ "))
    except ValueError:
        return None


def recorded_ratios(text: str) -> dict[str, float]:
    """The first cell -> the 'ratio' cell of every row of every markdown table in ``text``
    that has a 'ratio' column."""
    ratios: dict[str, float] = {}
    header: list[str] | None = None
    for line in text.splitlines():
        if not line.startswith("|"):
            header = None
        elif header is None:
            header = _cells(line)
        elif "ratio" in header:
            cells = _cells(line)
            value = _ratio(cells[header.index("ratio")]) if len(cells) == len(header) else None
            if value is not None:
                ratios[cells[0]] = value
    return ratios


def check(measured: dict[str, float], tolerance: float = TOLERANCE) -> int:
    """Print each measured ratio beside the recorded one; 1 when any is above it by more than
    ``tolerance`` (or is not recorded), else 0."""
    recorded = recorded_ratios(DOC.read_text())
    failed = 0
    for label, ratio in measured.items():
        want = recorded.get(label)
        if want is None:
            print(f"NOT RECORDED  {label}: {ratio:.3f} (no table row of {DOC.name} starts so)")
            failed += 1
            continue
        limit = want * (1 + tolerance)
        verdict = "ok" if ratio <= limit else "SLOWER"
        failed += verdict != "ok"
        print(f"{verdict:<12}  {label}: {ratio:.3f} (recorded {want:.2f}, limit {limit:.2f})")
    print(f"{len(measured) - failed} of {len(measured)} within +{tolerance:.0%} of {DOC.name}; "
          f"{load()}")  # fmt: skip
    return 1 if failed else 0

"""Every ratio ``benchmarks/… --check`` compares has its row in docs/performance.md, so the
check and the record cannot drift (nothing here is timed)."""

from __future__ import annotations

import capi  # benchmarks/ is on the path (pytest.ini)
import overhead
from recorded import DOC, recorded_ratios


def test_the_ratio_column_is_read_by_the_first_cell() -> None:
    text = (
        "| what | raw | ratio | target |\n|---|---|---|---|\n"
        "| `a` vs b | 5 µs | **0.84** | ≤ 1.03 ✔ |\n| c | 1 | 1.20 | (info) |\n"
        "\n| model | wall |\n|---|---|\n| d | 6.9 s |\n"
    )
    assert recorded_ratios(text) == {"`a` vs b": 0.84, "c": 1.20}


def test_every_checked_ratio_is_recorded() -> None:
    recorded = recorded_ratios(DOC.read_text())
    labels = [*overhead.LABELS.values(), *capi.CASES]
    assert [label for label in labels if label not in recorded] == []

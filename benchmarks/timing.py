"""Timing shared by the benchmarks: per-call cost, and two callables timed as a ratio in one run.

Rounds alternate which of the two goes first, so a machine that speeds up or slows down during
the run affects both; the result is the median of each and of the per-round ratios.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

__all__ = ["paired", "per_call"]


def per_call(fn: Callable[[], object], calls: int) -> float:
    """Seconds per call of ``fn`` over ``calls`` calls."""
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def paired(
    names: tuple[str, str],
    reference: Callable[[], object],
    measured: Callable[[], object],
    rounds: int,
    calls: int,
) -> dict[str, float]:
    """``{NAME_us: median µs per call for each, "ratio": median measured/reference}``, both
    warmed up first; ``names`` label the reference and the measured callable."""
    for fn in (reference, measured):
        per_call(fn, max(1, calls // 10))
    ref_t, meas_t, ratios = [], [], []
    for i in range(rounds):
        order = (reference, measured) if i % 2 == 0 else (measured, reference)
        times = {id(fn): per_call(fn, calls) for fn in order}
        ref_t.append(times[id(reference)])
        meas_t.append(times[id(measured)])
        ratios.append(meas_t[-1] / ref_t[-1])
    return {
        f"{names[0]}_us": statistics.median(ref_t) * 1e6,
        f"{names[1]}_us": statistics.median(meas_t) * 1e6,
        "ratio": statistics.median(ratios),
    }

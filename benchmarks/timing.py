"""Timing shared by the benchmarks: per-call cost, and two callables timed as a ratio in one run.

Time is the calling thread's CPU time (``time.thread_time``): every measured run does all its
work on the calling thread (one intra-op thread), and time the scheduler gives to other jobs on
a busy machine is not counted. Rounds alternate which of the two goes first, so a machine that
speeds up or slows down during the run affects both; the result is the median of each and of
the per-round ratios.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

__all__ = ["interleaved", "paired", "per_call"]


def per_call(fn: Callable[[], object], calls: int) -> float:
    """CPU seconds of this thread per call of ``fn`` over ``calls`` calls."""
    start = time.thread_time()
    for _ in range(calls):
        fn()
    return (time.thread_time() - start) / calls


def interleaved(
    fns: dict[str, Callable[[], object]], rounds: int, calls: int
) -> dict[str, list[float]]:
    """Seconds per call of each of ``fns``, one figure a round, all warmed up first; each
    round runs them in turn, in the opposite order from the round before."""
    for fn in fns.values():
        per_call(fn, max(1, calls // 10))
    items = list(fns.items())
    times: dict[str, list[float]] = {name: [] for name in fns}
    for i in range(rounds):
        for name, fn in items if i % 2 == 0 else items[::-1]:
            times[name].append(per_call(fn, calls))
    return times


def paired(
    names: tuple[str, str],
    reference: Callable[[], object],
    measured: Callable[[], object],
    rounds: int,
    calls: int,
) -> dict[str, float]:
    """``{NAME_us: median µs per call for each, "ratio": median measured/reference}``;
    ``names`` label the reference and the measured callable."""
    times = interleaved({names[0]: reference, names[1]: measured}, rounds, calls)
    ref_t, meas_t = times[names[0]], times[names[1]]
    return {
        f"{names[0]}_us": statistics.median(ref_t) * 1e6,
        f"{names[1]}_us": statistics.median(meas_t) * 1e6,
        "ratio": statistics.median(m / r for m, r in zip(meas_t, ref_t, strict=True)),
    }

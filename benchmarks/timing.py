"""Timing shared by the benchmarks: per-call cost, and two callables timed as a ratio in one run.

Time is the calling thread's CPU time (``time.thread_time``): every measured run does all its
work on the calling thread (one intra-op thread), and time the scheduler gives to other jobs on
a busy machine is not counted. Many short batches alternate between the callables, in the
opposite order each round, and each figure is the least disturbed batch (the minimum over
rounds): on an idle machine that is the typical cost, and on a busy one it is the figure the
other jobs' interruptions and evicted caches disturb least (a median moves by 10 % and more from
run to run at a load of 6 on 2 cores; the ratio of minimums by a few %).
"""

from __future__ import annotations

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
    """``{NAME_us: µs per call of each, "ratio": measured/reference}``, each the least
    disturbed of ``rounds`` batches of ``calls`` calls; ``names`` label the two callables."""
    times = interleaved({names[0]: reference, names[1]: measured}, rounds, calls)
    ref, meas = min(times[names[0]]), min(times[names[1]])
    return {f"{names[0]}_us": ref * 1e6, f"{names[1]}_us": meas * 1e6, "ratio": meas / ref}

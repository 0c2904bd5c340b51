"""The determinism section: the same inputs give bitwise-identical outputs, run after run and
session after session, on CPU; what changes with the thread count and the GPU spread are reported,
not judged."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import OrtWrapperError
from ..runtime.session import Session, SessionBuilder
from .models import synthetic_feeds
from .report import FAIL, INFO, PASS, Check, Section, Table

__all__ = ["ModelSource", "determinism_section", "max_abs_diff", "same_bits"]

log = logging.getLogger(__name__)

CPU = "CPUExecutionProvider"
THREAD_COUNTS = (1, 2, 4)


@dataclass(frozen=True)
class ModelSource:
    """A model to run: a name for the report and the builder that opens it."""

    name: str
    data: bytes | None = None
    path: str | None = None

    def builder(self) -> SessionBuilder:
        """A fresh SessionBuilder for this model."""
        if self.data is not None:
            return SessionBuilder.from_bytes(self.data)
        assert self.path is not None
        return SessionBuilder.from_file(self.path)


def same_bits(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """True when two output dicts hold the same names, dtypes, shapes and bytes."""
    if a.keys() != b.keys():
        return False
    return all(
        a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and a[k].tobytes() == b[k].tobytes()
        for k in a
    )


def max_abs_diff(a: dict[str, Any], b: dict[str, Any]) -> float:
    """The largest absolute difference between numeric outputs of the same names."""
    import numpy as np

    worst = 0.0
    for name, x in a.items():
        y = b[name]
        if x.dtype.kind in "fiub" and x.shape == y.shape and x.size:
            worst = max(
                worst, float(np.nanmax(np.abs(x.astype(np.float64) - y.astype(np.float64))))
            )
    return worst


def _session(model: ModelSource, provider: str = CPU, threads: int | None = None) -> Session:
    builder = model.builder().with_providers(provider)
    if threads is not None:
        builder.intra_op_threads(threads)
    return builder.build()


def _threads() -> dict[str, Any]:
    """The intra-op thread setting of the N-run and two-session checks: ORT's default (0, one
    thread per physical core), with this host's CPU count."""
    return {"intraOpThreads": 0, "meaning": "ORT default", "cpuCount": os.cpu_count()}


def _model_checks(
    model: ModelSource, runs: int, gpus: Sequence[str]
) -> tuple[list[Check], list[tuple[str, ...]]]:
    """Each configuration is guarded on its own: one that fails is a failed (or, for the
    reported-only ones, informational) check, and the others still run."""
    threads = _threads()
    said = f" (intra-op threads: ORT default, {threads['cpuCount']} CPUs)"
    try:
        first = _session(model)
        feeds = synthetic_feeds(first.inputs)
        reference = first.run(feeds)
    except Exception as exc:  # the model does not load or run: nothing else can be measured
        return [Check(f"{model.name}: load and run", FAIL, _what(exc))], []
    checks: list[Check] = []
    rows: list[tuple[str, ...]] = []
    name = f"{model.name}: {runs} runs, one session"
    try:
        repeats = [first.run(feeds) for _ in range(runs)]
        differing = sum(not same_bits(reference, r) for r in repeats)
        checks.append(
            Check(
                name,
                FAIL if differing else PASS,
                (
                    f"{differing} of {runs} runs differ bitwise from the first"
                    if differing
                    else f"all {runs} bitwise identical"
                )
                + said,
                {"runs": runs, "differing": differing, **threads},
            )
        )
    except Exception as exc:
        checks.append(Check(name, FAIL, _what(exc), threads))
    name = f"{model.name}: two sessions"
    try:
        second = _session(model).run(feeds)
        same = same_bits(reference, second)
        checks.append(
            Check(
                name,
                PASS if same else FAIL,
                ("bitwise identical" if same else f"differ (max |diff| "
                 f"{max_abs_diff(reference, second):.3g})") + said,
                {"identical": same, **threads},
            )
        )  # fmt: skip
    except Exception as exc:
        checks.append(Check(name, FAIL, _what(exc), threads))
    by_threads: dict[int, dict[str, Any]] = {}
    failed: dict[int, str] = {}
    for n in THREAD_COUNTS:
        try:
            by_threads[n] = _session(model, threads=n).run(feeds)
        except Exception as exc:
            failed[n] = _what(exc)
            rows.append((model.name, f"CPU, {n} thread(s)", "error", failed[n][:80]))
            continue
        base = by_threads.get(THREAD_COUNTS[0])
        rows.append(
            (
                model.name,
                f"CPU, {n} thread(s)",
                "-" if base is None else "yes" if same_bits(base, by_threads[n]) else "no",
                "-" if base is None else f"{max_abs_diff(base, by_threads[n]):.3g}",
            )
        )
    base = by_threads.get(THREAD_COUNTS[0])
    changed = [n for n in by_threads if base is not None and not same_bits(base, by_threads[n])]
    detail = (
        f"outputs change with {', '.join(map(str, changed))} threads (vs 1)"
        if changed
        else "bitwise identical across thread counts"
    )
    if failed:
        detail += "; failed with " + "; ".join(f"{n} threads: {w}" for n, w in failed.items())
    checks.append(
        Check(
            f"{model.name}: thread counts {', '.join(map(str, THREAD_COUNTS))}",
            FAIL if failed else INFO,
            detail,
            {
                "changedWith": changed,
                "failed": {str(n): w for n, w in failed.items()},
                "maxAbsDiff": {
                    n: max_abs_diff(base, by_threads[n]) for n in by_threads if base is not None
                },
            },
        )
    )
    for provider in gpus:
        name = f"{model.name}: {provider} spread"
        try:
            session = _session(model, provider)
            outs = [session.run(feeds) for _ in range(runs)]
        except Exception as exc:
            checks.append(Check(name, FAIL, _what(exc)))
            rows.append((model.name, provider, "error", "-"))
            continue
        spread = max(max_abs_diff(outs[0], o) for o in outs)
        vs_cpu = max_abs_diff(reference, outs[0])
        checks.append(
            Check(
                name,
                INFO,
                f"max |diff| across {runs} runs {spread:.3g}; vs CPU {vs_cpu:.3g}",
                {"spread": spread, "vsCpu": vs_cpu},
            )
        )
        rows.append((model.name, provider, "yes" if spread == 0 else "no", f"{spread:.3g}"))
    return checks, rows


def _what(exc: BaseException) -> str:
    if isinstance(exc, OrtWrapperError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def determinism_section(
    models: Sequence[ModelSource], *, runs: int = 20, gpus: Sequence[str] = ()
) -> Section:
    """Run the determinism section in this process on ``models``."""
    start = time.monotonic()
    checks, rows = [], []
    for model in models:
        model_checks, model_rows = _model_checks(model, runs, gpus)
        checks += model_checks
        rows += model_rows
    table = Table(
        "outputs by configuration",
        ("model", "configuration", "bitwise equal to first", "max |diff|"),
        tuple(rows),
    )
    return Section("determinism", tuple(checks), (table,), time.monotonic() - start)

"""The determinism section: the same inputs give bitwise-identical outputs, run after run and
session after session, on CPU; what changes with the thread count and the GPU spread are reported,
not judged."""

from __future__ import annotations

import logging
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


def _model_checks(
    model: ModelSource, runs: int, gpus: Sequence[str]
) -> tuple[list[Check], list[tuple[str, ...]]]:
    try:
        first = _session(model)
        feeds = synthetic_feeds(first.inputs)
        reference = first.run(feeds)
        repeats = [first.run(feeds) for _ in range(runs)]
        second = _session(model).run(feeds)
    except OrtWrapperError as exc:
        return [Check(f"{model.name}: load and run", FAIL, str(exc))], []
    differing = sum(not same_bits(reference, r) for r in repeats)
    checks = [
        Check(
            f"{model.name}: {runs} runs, one session",
            FAIL if differing else PASS,
            f"{differing} of {runs} runs differ bitwise from the first"
            if differing
            else f"all {runs} bitwise identical",
            {"runs": runs, "differing": differing},
        ),
        Check(
            f"{model.name}: two sessions",
            PASS if same_bits(reference, second) else FAIL,
            "bitwise identical"
            if same_bits(reference, second)
            else f"differ (max |diff| {max_abs_diff(reference, second):.3g})",
        ),
    ]
    rows = []
    by_threads = {}
    for n in THREAD_COUNTS:
        by_threads[n] = _session(model, threads=n).run(feeds)
        identical = same_bits(by_threads[THREAD_COUNTS[0]], by_threads[n])
        rows.append(
            (
                model.name,
                f"CPU, {n} thread(s)",
                "yes" if identical else "no",
                f"{max_abs_diff(by_threads[THREAD_COUNTS[0]], by_threads[n]):.3g}",
            )
        )
    changed = [
        n for n in THREAD_COUNTS if not same_bits(by_threads[THREAD_COUNTS[0]], by_threads[n])
    ]
    checks.append(
        Check(
            f"{model.name}: thread counts {', '.join(map(str, THREAD_COUNTS))}",
            INFO,
            f"outputs change with {', '.join(map(str, changed))} threads (vs 1)"
            if changed
            else "bitwise identical across thread counts",
            {
                "changedWith": changed,
                "maxAbsDiff": {
                    n: max_abs_diff(by_threads[1], by_threads[n]) for n in THREAD_COUNTS
                },
            },
        )
    )
    for provider in gpus:
        session = _session(model, provider)
        outs = [session.run(feeds) for _ in range(runs)]
        spread = max(max_abs_diff(outs[0], o) for o in outs)
        vs_cpu = max_abs_diff(reference, outs[0])
        checks.append(
            Check(
                f"{model.name}: {provider} spread",
                INFO,
                f"max |diff| across {runs} runs {spread:.3g}; vs CPU {vs_cpu:.3g}",
                {"spread": spread, "vsCpu": vs_cpu},
            )
        )
        rows.append((model.name, provider, "yes" if spread == 0 else "no", f"{spread:.3g}"))
    return checks, rows


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

"""The stability section: K runs of a model without an exception, with finite outputs wherever
the first run's are finite, and resident memory growth under 5 % after a warm-up, measured."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence

from ..errors import OrtWrapperError
from .determinism import ModelSource
from .models import synthetic_feeds
from .report import FAIL, PASS, Check, Section, Table

__all__ = ["RSS_GROWTH_LIMIT", "resident_bytes", "stability_section"]

log = logging.getLogger(__name__)

RSS_GROWTH_LIMIT = 0.05
CPU = "CPUExecutionProvider"


def resident_bytes() -> int:
    """This process's resident set size, from /proc/self/statm."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _stability(model: ModelSource, runs: int, provider: str) -> tuple[Check, tuple[str, ...]]:
    import numpy as np

    name = f"{model.name}: {runs} runs on {provider}"
    try:
        session = model.builder().with_providers(provider).build()
        feeds = synthetic_feeds(session.inputs)
        reference = session.run(feeds)
        finite = {k: np.isfinite(v) for k, v in reference.items() if v.dtype.kind == "f"}
        for _ in range(max(20, runs // 20)):  # warm-up: arenas and caches settle
            session.run(feeds)
    except Exception as exc:
        what = str(exc) if isinstance(exc, OrtWrapperError) else f"{type(exc).__name__}: {exc}"
        return Check(name, FAIL, what), (
            model.name,
            provider,
            "-",
            "-",
            "-",
            "-",
            "-",
            "load failed",
        )
    before, start, problems = resident_bytes(), time.monotonic(), []
    done = 0
    for i in range(runs):
        try:
            out = session.run(feeds)
        except Exception as exc:  # any exception is the failure this section looks for
            problems.append(f"run {i + 1} raised: {type(exc).__name__}: {exc}")
            break
        done += 1
        changed = [
            k
            for k, mask in finite.items()
            if k not in out or getattr(out[k], "shape", None) != mask.shape
        ]
        if changed:
            problems.append(
                f"run {i + 1}: output {', '.join(changed)} changed shape or vanished "
                f"(first run: {', '.join(str(finite[k].shape) for k in changed)})"
            )
            break
        bad = [k for k, mask in finite.items() if not np.isfinite(out[k][mask]).all()]
        if bad:
            problems.append(
                f"run {i + 1}: non-finite values in {', '.join(bad)} where the first run was finite"
            )
            break
    seconds = time.monotonic() - start
    after = resident_bytes()
    growth = (after - before) / before
    per_run = (after - before) / done if done else 0.0
    if growth >= RSS_GROWTH_LIMIT:
        problems.append(
            f"resident memory grew {growth:.1%} (limit {RSS_GROWTH_LIMIT:.0%}; "
            f"{per_run:+.0f} bytes per run)"
        )
    data = {
        "runs": done,
        "seconds": seconds,
        "rssBeforeKiB": before // 1024,
        "rssAfterKiB": after // 1024,
        "rssGrowth": growth,
        "bytesPerRun": per_run,
    }
    # RSS is the whole process's: the per-run figure is what a leak in this session would cost.
    detail = (
        f"{done} runs in {seconds:.2f} s; "
        f"RSS {before / 2**20:.1f} -> {after / 2**20:.1f} MiB ({growth:+.2%}, "
        f"{per_run:+.0f} B/run, process-wide)"
    )
    row = (
        model.name,
        provider,
        str(done),
        f"{before / 2**20:.1f}",
        f"{after / 2**20:.1f}",
        f"{growth:+.2%}",
        f"{per_run:+.0f}",
        "; ".join(problems) or "ok",
    )
    return Check(
        name,
        FAIL if problems else PASS,
        "; ".join(problems) + f" ({detail})" if problems else detail,
        data,
    ), row


def stability_section(
    models: Sequence[ModelSource], *, runs: int = 1000, providers: Sequence[str] = (CPU,)
) -> Section:
    """Run the stability section in this process: every model on every provider."""
    start = time.monotonic()
    checks, rows = [], []
    for model in models:
        for provider in providers:
            check, row = _stability(model, runs, provider)
            checks.append(check)
            rows.append(row)
    table = Table(
        "stability",
        (
            "model",
            "provider",
            "runs",
            "RSS before MiB",
            "RSS after MiB",
            "growth",
            "bytes/run",
            "result",
        ),
        tuple(rows),
    )
    return Section("stability", tuple(checks), (table,), time.monotonic() - start)

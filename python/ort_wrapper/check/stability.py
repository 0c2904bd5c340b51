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
    except OrtWrapperError as exc:
        return Check(name, FAIL, str(exc)), (
            model.name,
            provider,
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
        except OrtWrapperError as exc:
            problems.append(f"run {i + 1} raised: {exc}")
            break
        done += 1
        bad = [k for k, mask in finite.items() if not np.isfinite(out[k][mask]).all()]
        if bad:
            problems.append(
                f"run {i + 1}: non-finite values in {', '.join(bad)} where the first run was finite"
            )
            break
    seconds = time.monotonic() - start
    after = resident_bytes()
    growth = (after - before) / before
    if growth >= RSS_GROWTH_LIMIT:
        problems.append(f"resident memory grew {growth:.1%} (limit {RSS_GROWTH_LIMIT:.0%})")
    data = {
        "runs": done,
        "seconds": seconds,
        "rssBeforeKiB": before // 1024,
        "rssAfterKiB": after // 1024,
        "rssGrowth": growth,
    }
    detail = (
        f"{done} runs in {seconds:.2f} s; "
        f"RSS {before / 2**20:.1f} -> {after / 2**20:.1f} MiB ({growth:+.2%})"
    )
    row = (
        model.name,
        provider,
        str(done),
        f"{before / 2**20:.1f}",
        f"{after / 2**20:.1f}",
        f"{growth:+.2%}",
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
        ("model", "provider", "runs", "RSS before MiB", "RSS after MiB", "growth", "result"),
        tuple(rows),
    )
    return Section("stability", tuple(checks), (table,), time.monotonic() - start)

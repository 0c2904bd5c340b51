"""The stability section: K runs of a model without an exception, with finite outputs wherever
the first run's are finite, and resident memory growth under 5 % after a warm-up, measured.
Bounded by time as well as count, so a large model costs seconds, not minutes."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from typing import Any

from ..errors import InputError, ModelLoadError, OrtWrapperError
from ..report import FAIL, PASS, Check, Section, Table
from ..runtime.catalog import CPU_PROVIDER as CPU
from .compare import float_leaves
from .determinism import ModelSource, per_model, prepare, until
from .inputs import failed_inputs
from .options import STABILITY_SECONDS

__all__ = ["RSS_GROWTH_LIMIT", "resident_bytes", "stability_section"]

log = logging.getLogger(__name__)

RSS_GROWTH_LIMIT = 0.05
WARM_UP_SHARE = 0.25  # the warm-up stops after this share of the time limit


def resident_bytes() -> int:
    """This process's resident set size, from /proc/self/statm."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _changes(finite: dict[str, Any], out: dict[str, Any]) -> str | None:
    """How a run's numeric leaves differ from the first run's (shape, presence, finiteness)."""
    import numpy as np

    leaves = float_leaves(out)
    changed = [
        k for k, mask in finite.items() if getattr(leaves.get(k), "shape", None) != mask.shape
    ]
    if changed or leaves.keys() != finite.keys():
        changed = changed or sorted(leaves.keys() ^ finite.keys())
        return f"output {', '.join(changed[:5])} changed shape or vanished"
    bad = [k for k, mask in finite.items() if not np.isfinite(leaves[k][mask]).all()]
    if bad:
        return f"non-finite values in {', '.join(bad[:5])} where the first run was finite"
    return None


def _start(model: ModelSource, provider: str) -> tuple[Any, Any, dict[str, Any]]:
    """The session, its feeds and the finite mask of each numeric leaf of the first run."""
    import numpy as np

    session = model.builder().with_providers(provider).build()
    inputs, reference = prepare(model, session)
    finite = {k: np.isfinite(v) for k, v in float_leaves(reference).items()}
    return session, inputs, finite


def _stability(
    model: ModelSource, runs: int, seconds: float, provider: str
) -> tuple[Check, tuple[str, ...]]:
    name = f"{model.name}: {runs} runs on {provider}"
    try:
        session, inputs, finite = _start(model, provider)
        feeds = dict(inputs.feeds)
        warm_until = time.monotonic() + seconds * WARM_UP_SHARE
        for _ in until(warm_until, max(20, runs // 20)):  # warm-up: arenas and caches settle
            session.run(feeds)
    except Exception as exc:  # a model that cannot start fails its own check only
        what = str(exc) if isinstance(exc, OrtWrapperError) else f"{type(exc).__name__}: {exc}"
        failed = (
            "load failed"
            if isinstance(exc, ModelLoadError)
            else "inputs rejected"
            if isinstance(exc, InputError)
            else "first runs failed"
        )
        row = (model.name, provider, *("-",) * 5, failed)
        return Check(name, FAIL, what, failed_inputs(exc)), row
    before, start, problems = resident_bytes(), time.monotonic(), []
    done = 0
    for i in until(start + seconds, runs):
        try:
            out = session.run(feeds)
        except Exception as exc:  # any exception is the failure this section looks for
            problems.append(f"run {i + 1} raised: {type(exc).__name__}: {exc}")
            break
        done += 1
        change = _changes(finite, out)
        if change:
            problems.append(f"run {i + 1}: {change}")
            break
    elapsed = time.monotonic() - start
    after = resident_bytes()
    growth = (after - before) / before
    per_run = (after - before) / done if done else 0.0
    if growth >= RSS_GROWTH_LIMIT:
        problems.append(
            f"resident memory grew {growth:.1%} (limit {RSS_GROWTH_LIMIT:.0%}; "
            f"{per_run:+.0f} bytes per run)"
        )
    limited = not problems and done < runs
    data = {
        "runs": done,
        "requestedRuns": runs,
        "timeLimited": limited,
        "seconds": elapsed,
        "rssBeforeKiB": before // 1024,
        "rssAfterKiB": after // 1024,
        "rssGrowth": growth,
        "bytesPerRun": per_run,
        "inputs": inputs.describe(),
    }
    # RSS is the whole process's: the per-run figure is what a leak in this session would cost.
    detail = (
        f"{done} runs in {elapsed:.2f} s"
        + (f" (stopped at the {seconds:g} s limit; {runs} asked)" if limited else "")
        + f"; RSS {before / 2**20:.1f} -> {after / 2**20:.1f} MiB ({growth:+.2%}, "
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


def _model(
    model: ModelSource, runs: int, seconds: float, providers: Sequence[str]
) -> tuple[list[Check], list[tuple[str, ...]]]:
    results = [_stability(model, runs, seconds, p) for p in providers]
    return [c for c, _ in results], [r for _, r in results]


def stability_section(
    models: Sequence[ModelSource],
    *,
    runs: int = 1000,
    seconds: float = STABILITY_SECONDS,
    providers: Sequence[str] = (CPU,),
) -> Section:
    """Run the stability section in this process: every model on every provider, each for
    ``runs`` runs or ``seconds`` (after the warm-up), whichever ends first."""
    start = time.monotonic()
    checks, rows = [], []
    for model in models:
        model_checks, model_rows = per_model(
            model, lambda m=model: _model(m, runs, seconds, providers)
        )
        checks += model_checks
        rows += model_rows
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

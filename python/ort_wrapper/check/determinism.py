"""The determinism section: the same inputs give bitwise-identical outputs, run after run and
session after session, on CPU; what changes with the thread count and the GPU spread are reported,
not judged."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..errors import OrtWrapperError
from ..report import FAIL, INFO, PASS, Check, Section, Table
from ..runtime.catalog import CPU_PROVIDER as CPU
from ..runtime.session import Session, SessionBuilder
from .compare import max_abs_diff, same_outputs
from .inputs import ModelInputs, ModelSpec, failed_inputs, first_run, resolve_inputs
from .options import DETERMINISM_SECONDS

__all__ = ["ModelSource", "determinism_section", "per_model", "prepare", "until"]

log = logging.getLogger(__name__)

THREAD_COUNTS = (1, 2, 4)


@dataclass(frozen=True)
class ModelSource:
    """A model to run: a name for the report, the builder that opens it, and what the user gave
    for its inputs (None: synthetic ones)."""

    name: str
    data: bytes | None = None
    path: str | None = None
    spec: ModelSpec | None = None

    def builder(self) -> SessionBuilder:
        """A fresh SessionBuilder for this model."""
        if self.data is not None:
            return SessionBuilder.from_bytes(self.data)
        assert self.path is not None
        return SessionBuilder.from_file(self.path)

    def inputs(self, session: Any) -> ModelInputs:
        """The data sets ``session`` runs on (InputError when given files cannot be read)."""
        return resolve_inputs(self.spec, session)


def per_model(
    model: ModelSource, run: Callable[[], tuple[list[Check], list[tuple[str, ...]]]]
) -> tuple[list[Check], list[tuple[str, ...]]]:
    """``run`` the checks of one model: an exception fails that model's check alone; every check
    records the model and the seconds its section spent on it (for the summary table)."""
    start = time.monotonic()
    try:
        checks, rows = run()
    except Exception as exc:  # one model's failure fails that model's check alone
        log.debug("%s stopped", model.name, exc_info=True)
        checks, rows = [Check(f"{model.name}: checks", FAIL, f"stopped: {_what(exc)}")], []
    seconds = time.monotonic() - start
    tagged = [replace(c, data={**c.data, "model": model.name, "modelSeconds": seconds})
              for c in checks]  # fmt: skip
    return tagged, rows


def prepare(model: ModelSource, session: Any) -> tuple[ModelInputs, dict[str, Any]]:
    """The model's inputs and its first run's outputs (InputError saying which went wrong)."""
    inputs = model.inputs(session)
    return inputs, first_run(session, inputs)


def until(deadline: float, runs: int) -> Iterator[int]:
    """Run indices 0..runs-1 while the monotonic clock is before ``deadline``."""
    for i in range(runs):
        if i and time.monotonic() >= deadline:
            return
        yield i


def _session(model: ModelSource, provider: str = CPU, threads: int | None = None) -> Session:
    builder = model.builder().with_providers(provider)
    if threads is not None:
        builder.intra_op_threads(threads)
    return builder.build()


def _threads() -> dict[str, Any]:
    """The intra-op thread setting of the N-run and two-session checks: ORT's default (0, one
    thread per physical core), with this host's CPU count."""
    return {"intraOpThreads": 0, "meaning": "ORT default", "cpuCount": os.cpu_count()}


def _said(threads: dict[str, Any]) -> str:
    return f" (intra-op threads: ORT default, {threads['cpuCount']} CPUs)"


def _repeats(
    model: ModelSource, first: Session, feeds: Any, reference: Any, runs: int, seconds: float
) -> Check:
    """Up to ``runs`` runs in one session, stopping after ``seconds``: bitwise equal or FAIL."""
    threads = _threads()
    deadline = time.monotonic() + seconds
    done = differing = 0
    for _ in until(deadline, runs):
        differing += not same_outputs(reference, first.run(feeds))
        done += 1
    limited = f"; stopped at the {seconds:g} s limit ({runs} asked)" if done < runs else ""
    return Check(
        f"{model.name}: {runs} runs, one session",
        FAIL if differing else PASS,
        (
            f"{differing} of {done} runs differ bitwise from the first"
            if differing
            else f"all {done} runs bitwise identical"
        )
        + limited
        + _said(threads),
        {"runs": done, "requestedRuns": runs, "timeLimited": bool(limited), "differing": differing,
         **threads},
    )  # fmt: skip


def _two_sessions(model: ModelSource, feeds: Any, reference: Any) -> Check:
    threads = _threads()
    second = _session(model).run(feeds)
    same = same_outputs(reference, second)
    return Check(
        f"{model.name}: two sessions",
        PASS if same else FAIL,
        ("bitwise identical" if same else f"differ (max |diff| "
         f"{max_abs_diff(reference, second):.3g})") + _said(threads),
        {"identical": same, **threads},
    )  # fmt: skip


def _thread_counts(model: ModelSource, feeds: Any) -> tuple[Check, list[tuple[str, ...]]]:
    """Sessions with 1, 2 and 4 intra-op threads: what changes is reported, not judged."""
    rows: list[tuple[str, ...]] = []
    by_threads: dict[int, dict[str, Any]] = {}
    failed: dict[int, str] = {}
    for n in THREAD_COUNTS:
        try:
            by_threads[n] = _session(model, threads=n).run(feeds)
        except Exception as exc:  # one thread count failing is reported, not fatal
            failed[n] = _what(exc)
            rows.append((model.name, f"CPU, {n} thread(s)", "error", failed[n][:80]))
            continue
        base = by_threads.get(THREAD_COUNTS[0])
        rows.append(
            (
                model.name,
                f"CPU, {n} thread(s)",
                "-" if base is None else "yes" if same_outputs(base, by_threads[n]) else "no",
                "-" if base is None else f"{max_abs_diff(base, by_threads[n]):.3g}",
            )
        )
    base = by_threads.get(THREAD_COUNTS[0])
    changed = [n for n in by_threads if base is not None and not same_outputs(base, by_threads[n])]
    detail = (
        f"outputs change with {', '.join(map(str, changed))} threads (vs 1)"
        if changed
        else "bitwise identical across thread counts"
    )
    if failed:
        detail += "; failed with " + "; ".join(f"{n} threads: {w}" for n, w in failed.items())
    check = Check(
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
    return check, rows


def _gpu_spread(
    model: ModelSource, provider: str, feeds: Any, reference: Any, runs: int, seconds: float
) -> tuple[Check, tuple[str, ...]]:
    name = f"{model.name}: {provider} spread"
    try:
        session = _session(model, provider)
        deadline = time.monotonic() + seconds
        outs = [session.run(feeds) for _ in until(deadline, runs)]
    except Exception as exc:  # one provider failing fails its check alone
        return Check(name, FAIL, _what(exc)), (model.name, provider, "error", "-")
    spread = max(max_abs_diff(outs[0], o) for o in outs)
    vs_cpu = max_abs_diff(reference, outs[0])
    check = Check(
        name,
        INFO,
        f"max |diff| across {len(outs)} runs {spread:.3g}; vs CPU {vs_cpu:.3g}",
        {"spread": spread, "vsCpu": vs_cpu, "runs": len(outs)},
    )
    return check, (model.name, provider, "yes" if spread == 0 else "no", f"{spread:.3g}")


def _guard(name: str, make: Callable[[], Check]) -> Check:
    try:
        return make()
    except Exception as exc:  # one configuration failing fails its check alone
        return Check(name, FAIL, _what(exc))


def _model_checks(
    model: ModelSource, runs: int, seconds: float, gpus: Sequence[str]
) -> tuple[list[Check], list[tuple[str, ...]]]:
    """Each configuration is guarded on its own: one that fails is a failed (or, for the
    reported-only ones, informational) check, and the others still run."""
    try:
        first = _session(model)
    except Exception as exc:  # the model does not load: nothing else can be measured
        return [Check(f"{model.name}: load", FAIL, _what(exc))], []
    try:
        inputs, reference = prepare(model, first)
    except Exception as exc:  # the first run fails: nothing else can be measured
        return [Check(f"{model.name}: first run", FAIL, _what(exc), failed_inputs(exc))], []
    feeds = inputs.feeds
    said = {"inputs": inputs.describe()}
    checks = [
        _guard(f"{model.name}: {runs} runs, one session",
               lambda: _repeats(model, first, feeds, reference, runs, seconds)),
        _guard(f"{model.name}: two sessions", lambda: _two_sessions(model, feeds, reference)),
    ]  # fmt: skip
    threads, rows = _thread_counts(model, feeds)
    checks.append(threads)
    for provider in gpus:
        check, row = _gpu_spread(model, provider, feeds, reference, runs, seconds)
        checks.append(check)
        rows.append(row)
    return [replace(c, data={**c.data, **said}) for c in checks], rows


def _what(exc: BaseException) -> str:
    if isinstance(exc, OrtWrapperError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def determinism_section(
    models: Sequence[ModelSource],
    *,
    runs: int = 20,
    seconds: float = DETERMINISM_SECONDS,
    gpus: Sequence[str] = (),
) -> Section:
    """Run the determinism section in this process on ``models``; the repeated runs of each
    model stop after ``runs`` or ``seconds``, whichever comes first."""
    start = time.monotonic()
    checks, rows = [], []
    for model in models:
        model_checks, model_rows = per_model(
            model, lambda m=model: _model_checks(m, runs, seconds, gpus)
        )
        checks += model_checks
        rows += model_rows
    table = Table(
        "outputs by configuration",
        ("model", "configuration", "bitwise equal to first", "max |diff|"),
        tuple(rows),
    )
    return Section("determinism", tuple(checks), (table,), time.monotonic() - start)

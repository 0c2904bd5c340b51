"""The quality section: ONNX backend conformance against a committed baseline, and every usable
non-CPU compute provider against CPU on the same cases."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from ..operators import OperatorConfig
from ..progress import Progress
from ..report import FAIL, INFO, PASS, SKIP, Check, Section, Table
from ..runtime.catalog import CPU_PROVIDER as CPU
from ..runtime.catalog import provider_spec
from ..runtime.loader import active_runtime, init
from .baselines import (
    Baseline,
    BaselineError,
    baseline_path,
    compare,
    load_baseline,
    restricted,
    write_baseline,
)
from .cases import (
    ERRORED,
    FAILED,
    PASSED,
    SUITES,
    UNSUPPORTED,
    BackendCase,
    CaseResult,
    backend_cases,
    backend_data_problem,
    run_case,
)
from .reduced import included_cases, outside_the_set

__all__ = ["compute_providers", "cross_check", "load_baselines", "quality_section", "run_cases"]

log = logging.getLogger(__name__)

LISTED = 15  # cases named in a table before "... and N more"


def run_cases(
    cases: Sequence[BackendCase], provider: str, *, keep_outputs: bool = False, quiet: bool = False
) -> tuple[CaseResult, ...]:
    """Run ``cases`` on ``provider``, with progress on stderr. Lowers ONNX Runtime's default
    log level to errors-only-fatal for this process: many cases warn by design."""
    active_runtime().set_default_logger_severity(4)
    results = []
    with Progress(f"conformance on {provider}", len(cases), quiet=quiet) as progress:
        for case in cases:
            results.append(run_case(case, provider, keep_outputs))
            progress.advance()
    return tuple(results)


def compute_providers(usable: Sequence[str]) -> tuple[str, ...]:
    """Usable providers that execute ONNX operators on a device other than the CPU EP (Azure,
    which calls remote endpoints, has neither a library nor a device and is left out)."""
    out = []
    for name in usable:
        spec = provider_spec(name)
        if name != CPU and spec is not None and (spec.library or spec.device):
            out.append(name)
    return tuple(out)


def _counts(results: Sequence[CaseResult]) -> dict[str, int]:
    counter = Counter(r.status for r in results)
    return {s: counter.get(s, 0) for s in (PASSED, FAILED, ERRORED, UNSUPPORTED)}


def _listing(title: str, items: Sequence[tuple[str, ...]], columns: tuple[str, ...]) -> Table:
    rows = list(items[:LISTED])
    if len(items) > LISTED:
        rows.append(
            (
                f"... and {len(items) - LISTED} more (see the JSON report)",
                *("",) * (len(columns) - 1),
            )
        )
    return Table(title, columns, tuple(rows))


def load_baselines(
    providers: Sequence[str], onnx_version: str, ort_version: str, baseline_dir: Path | None
) -> tuple[dict[str, Baseline | None], tuple[Check, ...]]:
    """The baseline of each of ``providers`` (None where there is none), read and validated
    before any case runs, and a FAIL check for each one that exists but cannot be used: a
    corrupt baseline is reported at once instead of after the whole suite."""
    baselines: dict[str, Baseline | None] = {}
    unusable = []
    for provider in providers:
        try:
            baselines[provider] = load_baseline(ort_version, onnx_version, provider, baseline_dir)
        except BaselineError as exc:
            path = baseline_path(ort_version, onnx_version, provider, baseline_dir)
            data = {"provider": provider, "onnx": onnx_version, "baseline": str(path)}
            fix = "repair or remove it, or write it anew with --write-baseline"
            unusable.append(Check(f"baseline of {provider}", FAIL, str(exc), data, fix))
    return baselines, tuple(unusable)


def _conformance_check(
    results: Sequence[CaseResult],
    provider: str,
    onnx_version: str,
    ort_version: str,
    baseline: Baseline | None,
    subset: bool = False,
) -> tuple[Check, list[Table]]:
    """Results on ``provider`` against its ``baseline`` (read by ``load_baselines``;
    ``subset``: only as far as it covers the cases run): none is INFO, a regression or results
    that do not cover the baseline FAIL."""
    counts = _counts(results)
    summary = (
        f"{counts['pass']} pass, {counts['fail']} fail, {counts['error']} error of {len(results)}"
    )
    if counts[UNSUPPORTED]:
        summary += f" ({counts[UNSUPPORTED]} not expressible through this backend, not compared)"
    data: dict[str, object] = {
        "provider": provider,
        "counts": counts,
        "cases": len(results),
        "onnx": onnx_version,
    }
    name = f"conformance on {provider}"
    if baseline is None:
        data["baseline"] = None
        data["results"] = {r.case: r.status for r in results if r.status != PASSED}
        detail = (
            f"{summary}; no baseline for ORT {ort_version} / onnx {onnx_version} / {provider}: "
            "counts reported, nothing compared"
        )
        return Check(name, INFO, detail, data), []
    if subset:
        baseline = restricted(baseline, {r.case for r in results})
    diff = compare(results, baseline)
    data.update(
        baseline=str(baseline.path),
        regressions={r.case: f"{r.status}: {r.message}" for r in diff.regressions},
        improvements=list(diff.improvements),
        changed=list(diff.changed),
        absent=list(diff.absent),
        countMismatch=diff.count_mismatch,
        unsupported={r.case: r.message for r in results if r.status == UNSUPPORTED},
    )
    tables = []
    if diff.regressions:
        tables.append(
            _listing(
                f"regressions on {provider}",
                [(r.case, r.status, r.message) for r in diff.regressions],
                ("case", "now", "message"),
            )
        )
    if diff.improvements:
        tables.append(
            _listing(
                f"improvements on {provider} (known failures that now pass)",
                [(c,) for c in diff.improvements],
                ("case",),
            )
        )
    detail = (
        f"{summary}; against {baseline.path.name if baseline.path else 'baseline'}: "
        f"{len(diff.regressions)} regressions, {len(diff.improvements)} improvements"
    )
    if diff.count_mismatch:
        detail += f"; {diff.count_mismatch}"
    if diff.absent:
        shown = ", ".join(diff.absent[:3]) + (" ..." if len(diff.absent) > 3 else "")
        detail += f"; {len(diff.absent)} baseline cases were not run ({shown})"
    return Check(name, PASS if diff.ok else FAIL, detail, data), tables


def cross_check(
    cases: Sequence[BackendCase],
    cpu: Sequence[CaseResult],
    other: Sequence[CaseResult],
    provider: str,
    baseline: Baseline | None = None,
) -> Check:
    """``provider`` against CPU on the same cases: a case that passes on CPU but fails or errors
    on ``provider`` fails the check unless ``provider``'s baseline lists it; cases passing on
    both must agree within onnx's tolerances."""
    from onnx.backend.test.runner import Runner

    known = baseline.known if baseline is not None else {}
    differing, lost, compared = [], [], 0
    for case, a, b in zip(cases, cpu, other, strict=True):
        if a.status == PASSED and b.status != PASSED:
            if b.case not in known:
                lost.append(f"{case.id}: {b.status}: {b.message}"[:240])
            continue
        if a.outputs is None or b.outputs is None:
            continue
        compared += 1
        try:
            for x, y in zip(a.outputs, b.outputs, strict=True):
                Runner.assert_similar_outputs(list(x), list(y), rtol=case.rtol, atol=case.atol)
        except (AssertionError, TypeError, ValueError) as exc:
            differing.append(f"{case.id}: {str(exc).strip().splitlines()[0][:200]}")
    data = {
        "compared": compared,
        "differing": differing,
        "passOnCpuOnly": lost,
        "counts": _counts(other),
        "baseline": str(baseline.path) if baseline is not None and baseline.path else None,
    }
    detail = (
        f"{compared} cases passing on both compared, "
        f"{len(differing)} differ beyond onnx's tolerances; "
        f"{len(lost)} pass on CPU but not on {provider}"
        + (" (not in its baseline)" if baseline is not None else " (no baseline for it)")
    )
    return Check(f"{provider} vs CPU", FAIL if differing or lost else PASS, detail, data)


def quality_section(
    usable: Sequence[str],
    *,
    suites: Sequence[str] = SUITES,
    baseline_dir: Path | None = None,
    write_baselines: bool = False,
    quiet: bool = False,
    reduced: OperatorConfig | None = None,
) -> Section:
    """Run the quality section in this process (the runtime ``init()`` loads); for a
    ``reduced`` build, on the cases whose operators it registers."""
    start = time.monotonic()
    problem = backend_data_problem()
    if problem:
        return Section(
            "quality",
            (Check("ONNX backend test data", FAIL, problem),),
            seconds=time.monotonic() - start,
        )
    import onnx

    checks, tables = [], []
    ort_version = init().version
    cross = compute_providers(usable)
    baselines, unusable = load_baselines((CPU, *cross), onnx.__version__, ort_version, baseline_dir)
    if unusable and not write_baselines:  # --write-baseline replaces them: run all the same
        checks = [replace(c, detail=f"{c.detail}; no case was run") for c in unusable]
        return Section("quality", tuple(checks), seconds=time.monotonic() - start)
    checks.extend(unusable)
    cases = backend_cases(suites)
    if reduced is not None:
        every = len(cases)
        cases = included_cases(cases, reduced)
        checks.append(
            Check(
                "cases in the reduced build",
                INFO,
                f"{len(cases)} of {every} cases use only operators the build registers; "
                "only those are run and compared",
            )
        )
    try:
        import ml_dtypes  # noqa: F401
    except ImportError:
        checks.append(
            Check(
                "ml_dtypes",
                INFO,
                "ml_dtypes is not installed: bfloat16/float8 cases error at the feed step",
            )
        )
    cpu = run_cases(cases, CPU, keep_outputs=bool(cross), quiet=quiet)
    if reduced is not None:
        cpu = outside_the_set(cpu)
    check, extra = _conformance_check(
        cpu, CPU, onnx.__version__, ort_version, baselines.get(CPU), subset=reduced is not None
    )
    checks.append(check)
    tables.extend(extra)
    by_suite = []
    for suite in suites:
        subset = [r for r, c in zip(cpu, cases, strict=True) if c.suite == suite]
        counts = _counts(subset)
        by_suite.append(
            (
                suite,
                str(len(subset)),
                str(counts["pass"]),
                str(counts["fail"]),
                str(counts["error"]),
            )
        )
    tables.insert(
        0,
        Table(
            f"conformance on {CPU} (onnx {onnx.__version__} data)",
            ("suite", "cases", "pass", "fail", "error"),
            tuple(by_suite),
        ),
    )
    written = []
    if write_baselines:
        written.append(write_baseline(ort_version, onnx.__version__, CPU, cpu, baseline_dir))
    for provider in cross:
        other = run_cases(cases, provider, keep_outputs=True, quiet=quiet)
        baseline = baselines.get(provider)
        check, extra = _conformance_check(other, provider, onnx.__version__, ort_version, baseline)
        checks.append(check)
        tables.extend(extra)
        checks.append(cross_check(cases, cpu, other, provider, baseline))
        if write_baselines:
            written.append(
                write_baseline(ort_version, onnx.__version__, provider, other, baseline_dir)
            )
    if not cross:
        checks.append(
            Check(
                "cross-provider",
                SKIP,
                "no usable non-CPU compute provider in this distribution on this host",
            )
        )
    checks.extend(Check("baseline written", INFO, str(path)) for path in written)
    return Section("quality", tuple(checks), tuple(tables), time.monotonic() - start)

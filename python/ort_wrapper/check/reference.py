"""Reference outputs as a quality check: a user model's outputs on its real inputs against the
outputs they should give (``--expected``, or a test-data set's ``output_K.pb``), within
tolerances (onnx's defaults unless overridden), naming the largest differences."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ..report import FAIL, PASS, Check, Section, Table
from ..runtime.catalog import CPU_PROVIDER as CPU
from .compare import DEFAULT_ATOL, DEFAULT_RTOL, compare_reference
from .determinism import ModelSource, per_model

__all__ = ["reference_checks", "with_reference"]


def _model(
    model: ModelSource, rtol: float, atol: float
) -> tuple[list[Check], list[tuple[str, ...]]]:
    session = model.builder().with_providers(CPU).build()
    inputs = model.inputs(session)
    sets = [s for s in inputs.sets if s.expected]
    if not sets:
        return [], []
    rows, worst, failed, compared = [], 0.0, [], 0
    for data_set in sets:
        got = session.run(dict(data_set.feeds))
        for diff in compare_reference(data_set.expected, got, rtol, atol):
            compared += 1
            worst = max(worst, diff.max_abs)
            if not diff.ok:
                failed.append(f"{data_set.name}: {diff.describe()}")
            rows.append(_row(model.name, data_set.name, diff))
    tolerance = f"rtol {rtol:g}, atol {atol:g}"
    detail = (
        f"{len(failed)} of {compared} outputs out of tolerance ({tolerance}): {failed[0]}"
        if failed
        else f"{compared} outputs of {len(sets)} data set(s) within {tolerance}; "
        f"max |diff| {worst:.3g}"
    )
    data: dict[str, Any] = {
        "dataSets": [s.name for s in sets],
        "compared": compared,
        "failed": failed,
        "maxAbsDiff": worst,
        "rtol": rtol,
        "atol": atol,
        "inputs": inputs.describe(),
    }
    return [Check(f"{model.name}: reference outputs", FAIL if failed else PASS, detail, data)], rows


def _row(model: str, data_set: str, diff: Any) -> tuple[str, ...]:
    return (
        model,
        data_set,
        diff.output,
        f"{diff.max_abs:.3g}",
        f"{diff.max_rel:.3g}",
        diff.where or "-",
        f"{diff.mismatched}/{diff.total}",
        "ok" if diff.ok else diff.problem or "out of tolerance",
    )


def reference_checks(
    models: Sequence[ModelSource], rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL
) -> tuple[list[Check], Table]:
    """One check per model that has reference outputs, and the largest difference per output."""
    checks, rows = [], []
    for model in models:
        model_checks, model_rows = per_model(model, lambda m=model: _model(m, rtol, atol))
        checks += model_checks
        rows += model_rows
    table = Table(
        "reference outputs (largest differences)",
        ("model", "data set", "output", "max |diff|", "max rel", "where", "out of tol.", "result"),
        tuple(rows),
    )
    return checks, table


def with_reference(
    section: Section,
    models: Sequence[ModelSource],
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
) -> Section:
    """``section`` (the quality section) with the reference-output checks of ``models``."""
    start = time.monotonic()
    checks, table = reference_checks([m for m in models if m.spec is not None], rtol, atol)
    if not checks:
        return section
    return replace(
        section,
        checks=(*section.checks, *checks),
        tables=(*section.tables, table),
        seconds=section.seconds + time.monotonic() - start,
    )

"""Committed baselines of known conformance failures, keyed by ORT version, onnx version and
provider, so the quality check fails on a regression and reports an improvement, never a known gap.

A baseline file (``baselines/ort-<v>-onnx-<v>-<provider>.json``) lists every case that does not
pass and how it fails; every other case of its suites is expected to pass.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..files import write_json_atomic
from .cases import PASSED, UNSUPPORTED, CaseResult

__all__ = [
    "BASELINE_DIR",
    "Baseline",
    "BaselineError",
    "Comparison",
    "baseline_path",
    "compare",
    "load_baseline",
    "write_baseline",
]

log = logging.getLogger(__name__)

BASELINE_DIR = Path(__file__).resolve().parent / "baselines"


@dataclass(frozen=True)
class Baseline:
    """Known non-passing cases of one (ORT, onnx, provider) combination."""

    ort: str
    onnx: str
    provider: str
    cases: int
    known: Mapping[str, str]  # case id -> "fail" or "error"
    path: Path | None = None


def restricted(baseline: Baseline, cases: Collection[str]) -> Baseline:
    """``baseline`` as it reads for a subset of its cases (a reduced build runs only some)."""
    known = {c: s for c, s in baseline.known.items() if c in cases}
    return replace(baseline, cases=len(cases), known=known)


class BaselineError(ValueError):
    """A baseline file exists but cannot be used (unreadable, not JSON, a key missing)."""


@dataclass(frozen=True)
class Comparison:
    """Results against a baseline."""

    regressions: tuple[CaseResult, ...] = ()  # expected to pass, did not
    improvements: tuple[str, ...] = ()  # known to fail, now pass
    changed: tuple[str, ...] = field(default_factory=tuple)  # fail <-> error among known ones
    absent: tuple[str, ...] = ()  # known cases of the baseline that were not run
    count_mismatch: str | None = None  # "ran 1500 cases, the baseline has 1590"
    unsupported: tuple[str, ...] = ()  # cases the backend cannot feed: not compared

    @property
    def ok(self) -> bool:
        """True when nothing regressed and the results cover the baseline's cases."""
        return not self.regressions and not self.absent and self.count_mismatch is None


def baseline_path(ort: str, onnx: str, provider: str, directory: Path | None = None) -> Path:
    """Where the baseline of this combination lives."""
    return (directory or BASELINE_DIR) / f"ort-{ort}-onnx-{onnx}-{provider}.json"


def load_baseline(
    ort: str, onnx: str, provider: str, directory: Path | None = None
) -> Baseline | None:
    """The matching baseline, or None when none exists; BaselineError when one exists but is
    unusable (a corrupt baseline must not silently switch regression detection off)."""
    path = baseline_path(ort, onnx, provider, directory)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BaselineError(f"baseline {path} is unreadable: {exc}") from None
    if not isinstance(data, dict):
        raise BaselineError(f"baseline {path} is not a JSON object")
    absent = [k for k in ("ort", "onnx", "provider", "cases", "known") if k not in data]
    if absent:
        raise BaselineError(f"baseline {path} lacks {', '.join(absent)}")
    known = data["known"]
    if (
        not isinstance(known, dict)
        or not isinstance(data["cases"], int)
        or not set(known.values()) <= {"fail", "error"}
    ):
        raise BaselineError(
            f"baseline {path}: 'cases' must be a number and 'known' map case ids to "
            "'fail' or 'error'"
        )
    if (data["ort"], data["onnx"], data["provider"]) != (ort, onnx, provider):
        raise BaselineError(
            f"baseline {path} is for ORT {data['ort']} / onnx {data['onnx']} / "
            f"{data['provider']}, not ORT {ort} / onnx {onnx} / {provider}"
        )
    return Baseline(data["ort"], data["onnx"], data["provider"], data["cases"], known, path)


def write_baseline(
    ort: str, onnx: str, provider: str, results: Iterable[CaseResult], directory: Path | None = None
) -> Path:
    """Record ``results`` as the baseline of this combination."""
    results = list(results)
    known = {
        r.case: r.status
        for r in sorted(results, key=lambda r: r.case)
        if r.status not in (PASSED, UNSUPPORTED)
    }
    data = {
        "comment": "Cases that do not pass; regenerate with "
        "`ort-wrapper check --only quality --write-baseline`.",
        "ort": ort,
        "onnx": onnx,
        "provider": provider,
        "cases": len(results),
        "counts": {s: sum(r.status == s for r in results) for s in ("pass", "fail", "error")},
        "known": known,
    }
    return write_json_atomic(baseline_path(ort, onnx, provider, directory), data)


def compare(results: Iterable[CaseResult], baseline: Baseline) -> Comparison:
    """Regressions, improvements and changes of failure kind against ``baseline``, and whether
    the results cover the baseline (same number of cases, every known case run)."""
    results = list(results)
    regressions, improvements, changed = [], [], []
    ran = {r.case for r in results}
    absent = tuple(c for c in baseline.known if c not in ran)
    mismatch = (
        f"ran {len(results)} cases, the baseline has {baseline.cases}"
        if len(results) != baseline.cases
        else None
    )
    unsupported = tuple(r.case for r in results if r.status == UNSUPPORTED)
    for result in results:
        known = baseline.known.get(result.case)
        if result.status == UNSUPPORTED:
            continue
        if known is None and result.status != PASSED:
            regressions.append(result)
        elif known is not None and result.status == PASSED:
            improvements.append(result.case)
        elif known is not None and known != result.status:
            changed.append(f"{result.case}: {known} -> {result.status}")
    return Comparison(
        tuple(regressions), tuple(improvements), tuple(changed), absent, mismatch, unsupported
    )

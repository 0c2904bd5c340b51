"""``check`` on a reduced build (its manifest says which operators it registers): conformance
only on the cases whose operators it has, and the given models checked against that set, so
a model it cannot run is named with the operators it lacks rather than reported as broken."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from ..errors import InputError
from ..operators import ONNX_DOMAIN, Operator, OperatorConfig
from ..reduce.models import operators_of
from ..report import FAIL, INFO, PASS, Check, Section
from ..runtime.loader import init
from .cases import ERRORED, UNSUPPORTED, BackendCase, CaseResult
from .determinism import ModelSource

__all__ = [
    "coverage_checks",
    "included_cases",
    "kept_builtins",
    "outside_the_set",
    "reduced_config",
    "with_coverage",
]

# ONNX Runtime's words when no registered kernel matches a node
_NO_KERNEL = "Could not find an implementation for"


def reduced_config() -> OperatorConfig | None:
    """The operator config of the distribution ``init()`` loaded (None: not reduced)."""
    manifest = init().distribution.manifest
    return manifest.reduced_for if manifest is not None else None


def _operators(model: ModelSource) -> set[Operator]:
    source = model.data if model.data is not None else Path(str(model.path))
    return operators_of(source, model.name)


def _kernel(op: Operator) -> tuple[str, str, int]:
    """What picks the kernel: the version of the operator's schema in effect at the model's
    opset (Add at opsets 14 to 21 is Add-14); the opset itself where onnx has no schema."""
    from onnx import defs

    domain = "" if op.domain == ONNX_DOMAIN else op.domain
    try:
        version = defs.get_schema(op.name, op.opset, domain).since_version
    except defs.SchemaError:
        version = op.opset
    return op.domain, op.name, version


def _kept(config: OperatorConfig) -> set[tuple[str, str, int]]:
    """The kernels ``config`` keeps."""
    return {_kernel(op) for op in config.operators}


def _missing(kept: set[tuple[str, str, int]], used: set[Operator]) -> list[Operator]:
    """The operators of ``used`` whose kernel is not among ``kept``."""
    return sorted(op for op in used if _kernel(op) not in kept)


def included_cases(cases: Sequence[BackendCase], config: OperatorConfig) -> tuple[BackendCase, ...]:
    """The cases whose every operator's kernel ``config`` keeps."""
    kept, included = _kept(config), []
    for case in cases:
        try:
            used = operators_of(case.model_dir / "model.onnx", case.id)
        except InputError:
            continue
        if not _missing(kept, used):
            included.append(case)
    return tuple(included)


def outside_the_set(results: Sequence[CaseResult]) -> tuple[CaseResult, ...]:
    """Errors because a kernel is not registered (an optimiser fused the case's nodes into an
    operator the build leaves out) become 'unsupported', with ORT's message kept."""
    return tuple(
        replace(r, status=UNSUPPORTED, message=f"not in the reduced build: {r.message}")
        if r.status == ERRORED and _NO_KERNEL in r.message
        else r
        for r in results
    )


def kept_builtins(models: Sequence[ModelSource], config: OperatorConfig) -> list[ModelSource]:
    """The harness's own models that the reduced build can run (given models are all kept)."""
    kept = _kept(config)
    return [m for m in models if m.data is None or not _missing(kept, _operators(m))]


def _coverage(model: ModelSource, kept: set[tuple[str, str, int]]) -> Check:
    name = f"operators of {model.name}"
    try:
        missing = _missing(kept, _operators(model))
    except InputError as exc:
        return Check(name, FAIL, str(exc))
    if missing:
        shown = ", ".join(map(str, missing))
        return Check(name, FAIL, f"the reduced build leaves out {shown}: it cannot run this model")
    return Check(name, PASS, "every operator it uses is in the reduced build")


def with_coverage(
    section: Section, models: Sequence[ModelSource], config: OperatorConfig | None
) -> Section:
    """``section`` (quality) with :func:`coverage_checks` added for a reduced build."""
    if config is None:
        return section
    return replace(section, checks=(*section.checks, *coverage_checks(models, config)))


def coverage_checks(models: Sequence[ModelSource], config: OperatorConfig) -> list[Check]:
    """What the build was reduced for, and each given model against its operators."""
    made_for = ", ".join(m.name for m in config.models) or "a hand-written config"
    checks = [
        Check(
            "reduced build",
            INFO,
            f"{len(config.operators)} operators, reduced for {made_for}",
            config.to_json(),
        )
    ]
    kept = _kept(config)
    return checks + [_coverage(m, kept) for m in models if m.spec is not None]

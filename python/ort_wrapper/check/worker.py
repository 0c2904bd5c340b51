"""The session sections (providers, quality, determinism, stability) in the process that loads
the distribution: ``python -m ort_wrapper.check.worker``, a confined child (its request and
its sections go through ``runtime.untrusted``'s channel).

A process holds one ONNX Runtime, so ``ort-wrapper check`` runs these in a child whose
environment names the distribution (``ORT_WRAPPER_DIST``); a crash there fails the sections
instead of killing the harness. ``run_session_sections`` is also callable in-process.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import replace

from ..errors import OrtWrapperError
from ..operators import OperatorConfig
from ..report import Section, failed_section
from ..runtime.catalog import CPU_PROVIDER, gpu_providers
from ..runtime.loader import active_runtime, init
from ..runtime.session import LOG_LEVELS
from .determinism import ModelSource, determinism_section
from .models import builtin_models, onnx_problem
from .options import SESSION_SECTIONS, CheckOptions, announce
from .reduced import kept_builtins, reduced_config, with_coverage
from .reference import with_reference

__all__ = ["run_session_sections"]

log = logging.getLogger(__name__)


def _models(
    options: CheckOptions, reduced: OperatorConfig | None
) -> tuple[list[ModelSource], str | None]:
    """The given models, after the harness's own (those a reduced build can run)."""
    models = [ModelSource(str(m.path), path=str(m.path), spec=m) for m in options.models]
    problem = onnx_problem()
    if problem is None:
        builtins = [ModelSource(m.name, data=m.data) for m in builtin_models()]
        models = builtins + models
        if reduced is not None:
            models = kept_builtins(models, reduced)
            if not models:
                problem = "the reduced build registers none of the operators its models use"
    return models, problem


def _guarded(name: str, run: Callable[[], Section], quiet: bool) -> Section:
    announce(name, quiet)
    start = time.monotonic()
    try:
        return run()
    except Exception as exc:  # a section must not kill the run
        log.debug("section %s failed", name, exc_info=True)
        section = failed_section(
            name, f"the section stopped: {type(exc).__name__}: {exc}", "harness"
        )
        return Section(name, section.checks, seconds=time.monotonic() - start)


def run_session_sections(
    options: CheckOptions,
    claimed: tuple[str, ...] | None = None,
    on_section: Callable[[list[Section]], None] | None = None,
) -> list[Section]:
    """Run the requested session sections on the runtime ``init()`` loads in this process;
    ``on_section`` is called with the sections done so far after each one (the worker writes
    them, so a later crash or timeout loses only the sections not yet finished)."""
    from .conformance import quality_section
    from .providers import judge_providers, providers_section
    from .stability import stability_section

    wanted = [s for s in options.sections if s in SESSION_SECTIONS]
    try:
        info = init()
    except OrtWrapperError as exc:
        return [failed_section(name, f"cannot load the distribution: {exc}") for name in wanted]
    log.debug("checking %s", info.distribution.describe())
    active_runtime().set_default_logger_severity(LOG_LEVELS[options.log_level])
    judged = time.monotonic()
    try:
        verdicts = judge_providers(claimed)
    except Exception as exc:  # a probe session's failure fails the session sections only
        return [failed_section(name, f"cannot create a session: {exc}") for name in wanted]
    judged = time.monotonic() - judged
    usable = tuple(v.name for v in verdicts if v.usable)
    gpus = tuple(p for p in usable if p in gpu_providers())
    reduced = reduced_config()
    models, problem = _models(options, reduced)

    def providers_with_judging() -> Section:
        section = providers_section(claimed, verdicts)
        return replace(section, seconds=section.seconds + judged)

    def quality() -> Section:
        section = quality_section(
            usable,
            baseline_dir=options.baseline_dir,
            write_baselines=options.write_baseline,
            quiet=options.quiet,
            reduced=reduced,
        )
        section = with_reference(section, models, options.rtol, options.atol)
        return with_coverage(section, models, reduced)

    sections: list[Section] = []

    def add(section: Section) -> None:
        sections.append(section)
        if on_section is not None:
            on_section(list(sections))

    for name in wanted:
        if name == "providers":
            add(_guarded(name, providers_with_judging, options.quiet))
        elif name == "quality":
            add(_guarded(name, quality, options.quiet))
        elif problem and not options.models:
            add(failed_section(name, f"no model to run: {problem}", "models"))
        elif name == "determinism":
            add(
                _guarded(
                    name,
                    lambda: determinism_section(
                        models,
                        runs=options.determinism_runs,
                        seconds=options.determinism_seconds,
                        gpus=gpus,
                    ),
                    options.quiet,
                )
            )
        elif name == "stability":
            add(
                _guarded(
                    name,
                    lambda: stability_section(
                        models,
                        runs=options.stability_runs,
                        seconds=options.stability_seconds,
                        providers=(CPU_PROVIDER, *gpus),
                    ),
                    options.quiet,
                )
            )
    return sections


def main() -> int:
    """Entry point of the confined child: the request comes on stdin, each section done so
    far goes back on the result channel (``runtime.untrusted``)."""
    from ..runtime.untrusted import receive

    logging.basicConfig(
        level=logging.WARNING, format="ort-wrapper check worker: %(levelname)s: %(message)s"
    )
    channel, request = receive()
    options = CheckOptions.from_json(request["options"])
    claimed = tuple(request["claimed"]) if request.get("claimed") is not None else None

    def record(done: list[Section]) -> None:
        channel.send([s.to_json() for s in done])

    record(run_session_sections(options, claimed, on_section=record))
    return 0


if __name__ == "__main__":
    sys.exit(main())

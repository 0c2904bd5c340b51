"""``run_check``: every requested section on one distribution, as a Report.

Linking runs here (it reads files and probes the C API in a confined child); the session
sections run in a confined child that loads the distribution (see ``worker`` and
``runtime.untrusted``): killed with everything it started on timeout, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import OrtWrapperError
from ..manifest import LinkMode
from ..report import Report, Section, failed_section
from ..runtime.capi.static import interpreter_for
from ..runtime.distribution import (
    ENV_VARS,
    INSTALLED_MODULE,
    Distribution,
    DistributionKind,
    locate,
)
from .linking import linking_section
from .options import SESSION_SECTIONS, CheckOptions, announce

__all__ = ["run_check", "run_worker"]

log = logging.getLogger(__name__)


def _worker_env(target: Distribution) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    if target.root is not None and target.origin != INSTALLED_MODULE:
        env["ORT_WRAPPER_DIST"] = str(target.root)
    return env


def run_worker(target: Distribution, options: CheckOptions) -> list[Section]:
    """Run the session sections of ``options`` in a child process loading ``target``. When the
    child dies (a signal, an exit), the section it was in fails with how it ended and the
    sections after it run in a new child; ``--timeout`` bounds them all together."""
    wanted = [s for s in options.sections if s in SESSION_SECTIONS]
    try:
        python, extra = interpreter_for(target)
    except OrtWrapperError as exc:
        return [failed_section(n, f"cannot run the distribution: {exc}") for n in wanted]
    done: dict[str, Section] = {}
    deadline = time.monotonic() + options.timeout_s
    while remaining := [n for n in wanted if n not in done]:
        left = deadline - time.monotonic()
        if left <= 0:
            how = f"did not finish within {options.timeout_s:.0f} s (--timeout)"
            done.update((n, failed_section(n, how, "harness")) for n in remaining)
            break
        chunk = replace(options, sections=tuple(remaining), timeout_s=left)
        finished, how, timed_out = _one_worker(target, chunk, (python, extra))
        done.update(finished)
        rest = [n for n in remaining if n not in finished]
        if timed_out:
            done.update((n, failed_section(n, how, "harness")) for n in rest)
        elif rest:
            done[rest[0]] = failed_section(rest[0], how, "harness")
    return [done[n] for n in wanted]


def _worker_paths(target: Distribution, options: CheckOptions) -> tuple[list[Path], list[Path]]:
    """What the worker reads (the distribution, the models and their data, baselines) and
    writes (baselines, when asked to)."""
    from .baselines import BASELINE_DIR

    baselines = options.baseline_dir or BASELINE_DIR
    readable = [p for p in (target.root, baselines) if p is not None]
    for spec in options.models:
        readable += [spec.path.parent, *spec.input_dirs]
        readable += [path.parent for _, path in (*spec.inputs, *spec.expected)]
    return readable, [baselines] if options.write_baseline else []


def _one_worker(
    target: Distribution, options: CheckOptions, interpreter: tuple[str, dict[str, str]]
) -> tuple[dict[str, Section], str, bool]:
    """One confined child: the sections it finished, how it ended, whether it ran out of
    time."""
    from ..runtime.untrusted import run_confined

    # A module claims what it compiles in; a plain directory claims nothing (no manifest).
    claimed = list(target.manifest.providers) if target.manifest else None
    if target.kind is DistributionKind.DIRECTORY:
        claimed = []
    python, extra = interpreter
    readable, writable = _worker_paths(target, options)
    done = run_confined(
        [python, "-m", "ort_wrapper.check.worker"],
        what="the check worker",
        timeout=options.timeout_s,
        request={"options": options.to_json(), "claimed": claimed},
        env={**_worker_env(target), **extra},
        readable=readable,
        writable=writable,
        show_output=True,
    )
    if done.code is None:
        how = f"did not finish within {options.timeout_s:.0f} s (--timeout)"
    elif done.code < 0:
        how = f"the check worker was killed by signal {-done.code} (its messages are above)"
    else:
        how = f"the check worker exited with {done.code} (its messages are above)"
    return _collect(done.result), how, done.code is None


def _collect(result: object) -> dict[str, Section]:
    """The sections the worker sent (after each one)."""
    try:
        return {s["name"]: Section.from_json(s) for s in result or ()}  # type: ignore[attr-defined]
    except (ValueError, KeyError, TypeError) as exc:
        log.debug("unreadable worker result: %s", exc)
    return {}


def _not_loadable(target: Distribution, wanted: list[str]) -> list[Section]:
    return [failed_section(n, f"not a loadable distribution: {target.problem}") for n in wanted]


def run_check(
    dist: str | os.PathLike[str] | None = None, options: CheckOptions | None = None
) -> Report:
    """Check the distribution at ``dist`` (default: the one ``init()`` would load)."""
    options = options or CheckOptions()
    start = time.monotonic()
    target = locate(dist, strict=False)
    sections: dict[str, Section] = {}
    if "linking" in options.sections:
        announce("linking", options.quiet)
        sections["linking"] = linking_section(target)
    wanted = [s for s in options.sections if s in SESSION_SECTIONS]
    if wanted:
        found = (
            run_worker(target, options)
            if target.kind is not DistributionKind.BROKEN
            else _not_loadable(target, wanted)
        )
        sections.update((s.name, s) for s in found)
    ordered = tuple(sections[n] for n in options.sections if n in sections)
    data = _distribution_json(target, None if dist is None else str(dist))
    seconds = time.monotonic() - start
    return Report("ort-wrapper check", data["describe"], ordered, seconds, {"distribution": data})


def _distribution_json(target: Distribution, given: str | None) -> dict[str, Any]:
    """The report's ``distribution`` object."""
    m, broken = target.manifest, target.kind is DistributionKind.BROKEN
    return {
        "given": given,
        "kind": target.kind,
        "root": str(target.root) if target.root else None,
        "version": target.version,
        "variant": m.variant if m else None,
        "linkMode": m.link_mode if m else (None if broken else LinkMode.SHARED),
        "providers": list(m.providers) if m else None,
        "problem": target.problem,
        "describe": target.describe(),
    }

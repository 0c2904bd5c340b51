"""The execution providers compiled into the selected distribution and whether each can load.

The compiled-in list comes from the manifest, or, for an installed ``onnxruntime`` module, from
importing it in a child process (so this process never loads a runtime). Each provider is then
diagnosed by :func:`ort_wrapper.runtime.diagnose.provider_status`, the same function behind
strict sessions and ``ort-wrapper check``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from ..bundle import BUNDLE_JSON_RELPATH
from ..elf.resolve import Closure, ResolvedLibrary, resolve_closure
from ..errors import ElfError
from ..runtime.catalog import (
    CPU_PROVIDER,
    gpu_providers,
    provider_spec,
    provider_specs,
    soname_source,
)
from ..runtime.child import json_child, runtime_command
from ..runtime.diagnose import (
    ManifestAgreement,
    ProviderStatus,
    manifest_verdict,
    provider_status,
)
from ..runtime.distribution import ENV_VARS, Distribution
from .findings import Finding, Listing
from .leftout import left_out_libraries

__all__ = [
    "CompiledIn",
    "ProviderFindings",
    "closure_json",
    "compiled_in",
    "host_provided",
    "manifest_findings",
    "provider_findings",
    "where_from",
]

log = logging.getLogger(__name__)

_SECTION = "providers"
PROBE_TIMEOUT_S = 120


@dataclass(frozen=True)
class CompiledIn:
    """The providers a distribution has compiled in, and how that was learnt."""

    providers: tuple[str, ...]
    source: str  # "child process"; on failure "manifest" or "library files"
    version: str | None = None
    error: str | None = None  # why the child process could not tell


def _from_files(dist: Distribution) -> tuple[str, ...]:
    names = [
        spec.name
        for spec in provider_specs().values()
        if spec.library and any((d / spec.library).exists() for d in dist.library_dirs)
    ]
    return (*names, CPU_PROVIDER)


def _child_env(dist: Distribution) -> tuple[dict[str, str], str | None]:
    """The child's environment (no distribution pointers) and working directory: a module is
    imported from its site-packages, ahead of where ort_wrapper lives; a prefix is loaded by
    ``init(prefix)`` (preloads and all), as check's worker does."""
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    package_parent = str(Path(__file__).resolve().parents[2])  # where ort_wrapper lives
    path = str(dist.python_path) if dist.kind == "module" else None
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (path, package_parent, env.get("PYTHONPATH")) if p
    )
    return env, path


def compiled_in(dist: Distribution) -> CompiledIn:
    """The compiled-in providers as the runtime itself reports them
    (``get_available_providers()`` in a child process that loads this distribution, so this
    process never loads a runtime); when that fails, the manifest's list, or the provider
    libraries present, with the error."""
    env, cwd = _child_env(dist)
    command = runtime_command(None if dist.kind == "module" else dist.root)
    data, error = json_child(command, PROBE_TIMEOUT_S, "the child process", env, cwd)
    if data is not None:
        try:
            return CompiledIn(tuple(data["providers"]), "child process", data["version"])
        except (KeyError, TypeError) as exc:
            error = f"unexpected output {data!r} ({exc})"
    fallback = dist.manifest.providers if dist.manifest is not None else _from_files(dist)
    source = "manifest" if dist.manifest is not None else "library files"
    last = (error or "").strip().splitlines()
    return CompiledIn(fallback, source, error=last[-1] if last else error)


_SEVERITY = {
    ManifestAgreement.LACKING: "error",
    ManifestAgreement.UNCLAIMED: "warning",
    ManifestAgreement.NOTHING_CLAIMED: "warning",
}


def manifest_findings(
    dist: Distribution, compiled: CompiledIn, left_out: frozenset[str] = frozenset()
) -> list[Finding]:
    """The manifest's providers against the runtime's (check's rule, ``manifest_verdict``),
    when the runtime itself reported them."""
    if dist.manifest is None or compiled.source != "child process":
        return []
    verdict = manifest_verdict(dist.manifest.providers, compiled.providers, left_out)
    severity = _SEVERITY.get(verdict.agreement, "ok")
    return [Finding(_SECTION, "provider.manifest", severity, verdict.fact, verdict.fix)]


def _from_nvidia_wheel(lib: ResolvedLibrary) -> bool:
    return lib.path is not None and lib.source == "search-dir" and "nvidia" in lib.path.parts


def where_from(lib: ResolvedLibrary) -> str:
    """Where the loader finds ``lib``, in words: 'nvidia-cublas-cu12 wheel', 'ld.so.conf', ..."""
    if lib.path is None:
        return "missing"
    if _from_nvidia_wheel(lib):
        return f"{soname_source(lib.soname).pypi or 'nvidia-*'} wheel (not on the loader's path)"
    category = lib.host_category
    return f"{lib.source} (host {category})" if category else lib.source


def host_provided(lib: ResolvedLibrary) -> str | None:
    """The host category (glibc, loader, driver, ...) of a library the host provides."""
    if lib.path is None or _from_nvidia_wheel(lib):
        return None
    return lib.host_category


def closure_json(closure: Closure | None) -> list[dict[str, Any]]:
    """Every soname of a closure: path, where from, who needs it, and fixes when missing."""
    if closure is None:
        return []
    out = []
    for lib in closure.libraries.values():
        entry: dict[str, Any] = {
            "soname": lib.soname,
            "path": str(lib.path) if lib.path else None,
            "from": where_from(lib),
            "host": host_provided(lib),
            "neededBy": list(lib.needed_by),
        }
        if lib.path is None:
            entry["provides"] = list(soname_source(lib.soname).hints)
        out.append(entry)
    return out


def _status_json(status: ProviderStatus) -> dict[str, Any]:
    return {
        "name": status.name,
        "loadable": status.loadable,
        "library": str(status.library) if status.library else None,
        "libraryPresent": status.library_present,
        "missing": [
            {
                "soname": m.soname,
                "neededBy": list(m.needed_by),
                "pypi": m.source.requirement,
                "nix": m.source.nix,
                "flake": m.source.flake,
                "debian": m.source.debian,
                "hints": list(m.source.hints),
            }
            for m in status.missing
        ],
        "deviceProblem": status.device_problem,
        "reason": status.reason(),
        "fix": status.fix(),
        "closure": closure_json(status.closure),
    }


def _finding(
    status: ProviderStatus, usable_gpu: bool, left_out: frozenset[str] = frozenset()
) -> Finding:
    name = status.name
    if not status.library_present and status.library and status.library.name in left_out:
        return Finding(
            _SECTION,
            "provider.left-out",
            "ok",
            f"{name}: {status.library.name} was left out of this bundle on purpose "
            f"({BUNDLE_JSON_RELPATH} leftOut)",
        )
    if status.loadable and status.library is None:
        return Finding(_SECTION, "provider.builtin", "ok", f"{name}: built into ONNX Runtime")
    if status.loadable and status.needs_preload:
        return Finding(
            _SECTION,
            "provider.needs-preload",
            "warning",
            f"{name}: {status.problem()}",
            status.fix(),
        )
    if status.loadable:
        assert status.closure is not None
        count = len(status.closure.libraries)
        return Finding(
            _SECTION,
            "provider.usable",
            "ok",
            f"{name}: {status.library} and the {count} libraries it needs resolve",
        )
    # An unusable GPU provider is only a warning while another GPU provider works.
    severity = "warning" if usable_gpu and name in gpu_providers() else "error"
    return Finding(
        _SECTION,
        "provider.unusable",
        severity,
        f"{name} is compiled in but unusable: {status.problem()}",
        status.fix(),
    )


def _core_finding(dist: Distribution) -> tuple[Finding | None, Listing | None]:
    core = dist.core_library()
    if core is None:
        return None, None
    try:
        closure = resolve_closure(core)
    except ElfError as exc:
        return Finding(_SECTION, "core.closure", "error", str(exc), "reinstall it"), None
    listing = Listing("core", core, closure)
    if not closure.missing:
        fact = f"{core.name}: the {len(closure.libraries)} libraries it needs resolve"
        return Finding(_SECTION, "core.closure", "ok", fact), listing
    missing = closure.missing
    fixes = "; ".join(dict.fromkeys(soname_source(lib.soname).fix for lib in missing))
    fact = f"{core.name} cannot load: missing {', '.join(lib.soname for lib in missing)}"
    return Finding(_SECTION, "core.closure", "error", fact, fixes), listing


class ProviderFindings(NamedTuple):
    """What :func:`provider_findings` learnt: findings, their JSON details, each provider's
    status and the closures to list."""

    findings: list[Finding]
    details: dict[str, Any]
    statuses: tuple[ProviderStatus, ...]
    closures: tuple[Listing, ...]


def provider_findings(dist: Distribution, compiled: CompiledIn) -> ProviderFindings:
    """Findings for the core library and every compiled-in provider, with their details."""
    findings: list[Finding] = []
    if compiled.error:
        findings.append(
            Finding(
                "distributions",
                "dist.probe",
                "error",
                f"loading ONNX Runtime from {dist.python_path or dist.root} in a child process "
                f"fails: {compiled.error} (providers below are the {compiled.source}'s)",
                "see the host and core findings below; reinstall the package if they are clear",
            )
        )
    left_out = left_out_libraries(dist)
    findings += manifest_findings(dist, compiled, left_out)
    core_finding, core = _core_finding(dist)
    if core_finding is not None:
        findings.append(core_finding)
    statuses: list[ProviderStatus] = []
    for name in compiled.providers:
        try:
            statuses.append(
                provider_status(name, available=compiled.providers, library_dirs=dist.library_dirs)
            )
        except ElfError as exc:  # a truncated or foreign provider library
            fact = f"{name} is compiled in but its library is unreadable: {exc}"
            findings.append(
                Finding(_SECTION, "provider.unusable", "error", fact, "reinstall the distribution")
            )
    usable_gpu = any(s.loadable and s.name in gpu_providers() for s in statuses)
    findings += [_finding(status, usable_gpu, left_out) for status in statuses]
    unknown = [s.name for s in statuses if provider_spec(s.name) is None]
    if unknown:
        log.debug("providers unknown to data/providers.json: %s", unknown)
    details = {
        "compiledIn": list(compiled.providers),
        "learntFrom": compiled.source,
        "reportedVersion": compiled.version,
        "core": {"library": str(core.library), "closure": closure_json(core.closure)}
        if core
        else None,
        "providers": [_status_json(s) for s in statuses],
    }
    listings = [Listing(s.name, s.library, s.closure) for s in statuses if s.library]
    closures = (core, *listings) if core else tuple(listings)
    return ProviderFindings(findings, details, tuple(statuses), closures)

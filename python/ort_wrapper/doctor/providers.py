"""The execution providers compiled into the selected distribution and whether each can load.

The compiled-in list comes from the manifest, or, for an installed ``onnxruntime`` module, from
importing it in a child process (so this process never loads a runtime). Each provider is then
diagnosed by :func:`ort_wrapper.runtime.diagnose.provider_status`, the same function behind
strict sessions and ``ort-wrapper check``.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..elf.reader import is_elf
from ..elf.resolve import Closure, ResolvedLibrary, resolve_closure
from ..errors import ElfError
from ..runtime.catalog import gpu_providers, provider_spec, provider_specs, soname_source
from ..runtime.diagnose import ProviderStatus, provider_status
from ..runtime.distribution import Distribution
from ..runtime.gpu import nvidia_wheel_dirs
from .findings import Finding

__all__ = [
    "CompiledIn",
    "closure_json",
    "compiled_in",
    "core_library",
    "provider_findings",
    "where_from",
]

log = logging.getLogger(__name__)

_SECTION = "providers"
_PROBE = (
    "import json, onnxruntime as o; print(json.dumps({'version': o.__version__, "
    "'file': o.__file__, 'providers': o.get_available_providers()}))"
)
PROBE_TIMEOUT_S = 120


@dataclass(frozen=True)
class CompiledIn:
    """The providers a distribution has compiled in, and how that was learnt."""

    providers: tuple[str, ...]
    source: str  # "manifest", "child process", "library files"
    version: str | None = None
    error: str | None = None  # why the child process could not tell


def _from_files(dist: Distribution) -> tuple[str, ...]:
    names = [
        spec.name
        for spec in provider_specs().values()
        if spec.library and any((d / spec.library).exists() for d in dist.library_dirs)
    ]
    return (*names, "CPUExecutionProvider")


def compiled_in(dist: Distribution) -> CompiledIn:
    """The compiled-in providers: the manifest's, or ``get_available_providers()`` of a child
    Python that imports this distribution's module; the provider libraries present otherwise."""
    if dist.manifest is not None:
        return CompiledIn(dist.manifest.providers, "manifest", dist.manifest.version)
    env = dict(os.environ)
    python_path = str(dist.python_path)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (python_path, env.get("PYTHONPATH")) if p)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _PROBE],
            env=env,
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
            cwd=python_path,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return CompiledIn(_from_files(dist), "library files", error=f"child process: {exc}")
    lines = proc.stdout.strip().splitlines()
    if proc.returncode == 0 and lines:
        try:
            data = json.loads(lines[-1])
            return CompiledIn(tuple(data["providers"]), "child process", data["version"])
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            error = f"unexpected output {lines[-1]!r} ({exc})"
    else:
        tail = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        error = tail[-1] if tail else f"exit status {proc.returncode}"
    return CompiledIn(_from_files(dist), "library files", error=error)


def core_library(dist: Distribution) -> Path | None:
    """The distribution's ``libonnxruntime.so*`` (None for a static C distribution)."""
    for directory in dist.library_dirs:
        for path in sorted(directory.glob("libonnxruntime.so*")):
            if is_elf(path):
                return path
    return None


def where_from(lib: ResolvedLibrary) -> str:
    """Where the loader finds ``lib``, in words: 'nvidia-cublas-cu12 wheel', 'ld.so.conf', ..."""
    if lib.path is None:
        return "missing"
    if lib.source == "search-dir" and "nvidia" in lib.path.parts:
        return f"{soname_source(lib.soname).pypi or 'nvidia-*'} wheel (not on the loader's path)"
    category = lib.host_category
    return f"{lib.source} (host {category})" if category else lib.source


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


def _preloaded_only(status: ProviderStatus) -> list[str]:
    if status.closure is None:
        return []
    return [
        lib.soname
        for lib in status.closure.libraries.values()
        if lib.source == "search-dir" and lib.path is not None
    ]


def _finding(status: ProviderStatus, usable_gpu: bool) -> Finding:
    name = status.name
    if status.loadable and status.library is None:
        return Finding(_SECTION, "provider.builtin", "ok", f"{name}: built into ONNX Runtime")
    if status.loadable:
        wheels = _preloaded_only(status)
        assert status.closure is not None
        if wheels:
            return Finding(
                _SECTION,
                "provider.needs-preload",
                "warning",
                f"{name}: {', '.join(wheels)} resolve only from the nvidia-* wheels, which are "
                "not on the loader's path",
                "call onnxruntime.preload_dlls() before the first session, or put the wheels' "
                "site-packages/nvidia/*/lib directories on LD_LIBRARY_PATH",
            )
        count = len(status.closure.libraries)
        return Finding(
            _SECTION,
            "provider.usable",
            "ok",
            f"{name}: {status.library} and the {count} libraries it needs resolve",
        )
    parts = []
    if status.missing:
        parts.append("missing " + ", ".join(m.soname for m in status.missing))
    if not status.library_present:
        parts.append(f"{status.library} is absent")
    if status.device_problem:
        parts.append(status.device_problem)
    if wheels := _preloaded_only(status):
        parts.append(f"{', '.join(wheels)} found only in nvidia-* wheels (need preloading)")
    # An unusable GPU provider is only a warning while another GPU provider works.
    severity = "warning" if usable_gpu and name in gpu_providers() else "error"
    lib = status.library.name if status.library else name
    return Finding(
        _SECTION,
        "provider.unusable",
        severity,
        f"{name} is compiled in but unusable ({lib}): {'; '.join(parts)}",
        status.fix(),
    )


def _core_finding(dist: Distribution) -> tuple[Finding | None, dict[str, Any] | None]:
    core = core_library(dist)
    if core is None:
        return None, None
    try:
        closure = resolve_closure(core)
    except ElfError as exc:
        return Finding(_SECTION, "core.closure", "error", str(exc), "reinstall it"), None
    details = {"library": str(core), "closure": closure_json(closure)}
    if not closure.missing:
        fact = f"{core.name}: the {len(closure.libraries)} libraries it needs resolve"
        return Finding(_SECTION, "core.closure", "ok", fact), details
    missing = closure.missing
    fixes = "; ".join(dict.fromkeys(soname_source(lib.soname).fix for lib in missing))
    return (
        Finding(
            _SECTION,
            "core.closure",
            "error",
            f"{core.name} cannot load: missing {', '.join(lib.soname for lib in missing)}",
            fixes,
        ),
        details,
    )


def provider_findings(
    dist: Distribution, compiled: CompiledIn
) -> tuple[list[Finding], dict[str, Any], tuple[ProviderStatus, ...]]:
    """Findings for the core library and every compiled-in provider, with their details."""
    findings: list[Finding] = []
    if compiled.error:
        findings.append(
            Finding(
                "distributions",
                "dist.probe",
                "error",
                f"importing onnxruntime from {dist.python_path} fails: {compiled.error}",
                "see the host and core findings below; reinstall the package if they are clear",
            )
        )
    core_finding, core_details = _core_finding(dist)
    if core_finding is not None:
        findings.append(core_finding)
    statuses: list[ProviderStatus] = []
    for name in compiled.providers:
        try:
            statuses.append(
                provider_status(
                    name,
                    available=compiled.providers,
                    library_dirs=dist.library_dirs,
                    search_dirs=nvidia_wheel_dirs(),
                )
            )
        except ElfError as exc:  # a truncated or foreign provider library
            fact = f"{name} is compiled in but its library is unreadable: {exc}"
            findings.append(
                Finding(_SECTION, "provider.unusable", "error", fact, "reinstall the distribution")
            )
    usable_gpu = any(s.loadable and s.name in gpu_providers() for s in statuses)
    findings += [_finding(status, usable_gpu) for status in statuses]
    unknown = [s.name for s in statuses if provider_spec(s.name) is None]
    if unknown:
        log.debug("providers unknown to data/providers.json: %s", unknown)
    details = {
        "compiledIn": list(compiled.providers),
        "learntFrom": compiled.source,
        "reportedVersion": compiled.version,
        "core": core_details,
        "providers": [_status_json(s) for s in statuses],
    }
    return findings, details, tuple(statuses)

"""The execution providers compiled into the selected distribution and whether each can load.

The compiled-in list comes from the manifest, or, for an installed ``onnxruntime`` module, from
importing it in a child process (so this process never loads a runtime). Each provider is then
diagnosed by :func:`ort_wrapper.runtime.diagnose.provider_status`, the same function behind
strict sessions and ``ort-wrapper check``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..bundle import BUNDLE_JSON_RELPATH
from ..bundle.record import read_bundle_record
from ..elf.loadable import diagnose_load
from ..elf.resolve import Closure, ResolvedLibrary
from ..errors import BundleError, ElfError
from ..report import FAIL, PASS, WARN, Check, Kind, Section, Table
from ..runtime.catalog import (
    CPU_PROVIDER,
    gpu_providers,
    provider_specs,
    soname_source,
)
from ..runtime.diagnose import ProviderStatus, manifest_check, provider_status
from ..runtime.distribution import ENV_VARS, Distribution, DistributionKind
from .query import query_command

__all__ = [
    "CompiledIn",
    "closure_json",
    "closure_table",
    "compiled_in",
    "host_provided",
    "left_out_libraries",
    "left_out_on_purpose",
    "probe_check",
    "provider_section",
    "where_from",
]

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


def _child_env(dist: Distribution) -> tuple[dict[str, str], Path | None]:
    """The child's environment (no distribution pointers) and working directory: a module is
    imported from its site-packages, ahead of where ort_wrapper lives; a prefix is loaded by
    ``init(prefix)`` (preloads and all), as check's worker does."""
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    package_parent = str(Path(__file__).resolve().parents[2])  # where ort_wrapper lives
    path = dist.python_path if dist.kind is DistributionKind.MODULE else None
    env["PYTHONPATH"] = os.pathsep.join(
        str(p) for p in (path, package_parent, env.get("PYTHONPATH")) if p
    )
    return env, path


def compiled_in(dist: Distribution) -> CompiledIn:
    """The compiled-in providers as the runtime itself reports them
    (``get_available_providers()`` in a confined child that loads this distribution, so this
    process never loads a runtime); when that fails, the manifest's list, or the provider
    libraries present, with the error."""
    from ..runtime.untrusted import run_confined

    env, cwd = _child_env(dist)
    done = run_confined(
        query_command(),
        what="the child process",
        timeout=PROBE_TIMEOUT_S,
        request=None if dist.kind is DistributionKind.MODULE else str(dist.root),
        env=env,
        cwd=cwd,
        readable=[dist.root],
    )
    error, data = done.error, done.result
    if error is None:
        try:
            return CompiledIn(tuple(data["providers"]), "child process", data["version"])
        except (KeyError, TypeError) as exc:
            error = f"unexpected output {data!r} ({exc})"
    fallback = dist.manifest.providers if dist.manifest is not None else _from_files(dist)
    source = "manifest" if dist.manifest is not None else "library files"
    last = (error or "").strip().splitlines()
    return CompiledIn(fallback, source, error=last[-1] if last else error)


def left_out_libraries(dist: Distribution) -> frozenset[str]:
    """File names of the libraries the bundle at ``dist.root`` left out on purpose
    (``bundle --provider``, bundle.json's ``leftOut``); empty when it is no bundle or its
    bundle.json is unreadable (doctor then judges the files as they are)."""
    if dist.kind not in (DistributionKind.PREFIX, DistributionKind.STATIC):
        return frozenset()
    try:
        return frozenset(entry.name for entry in read_bundle_record(dist.root).left_out)
    except (OSError, BundleError):
        return frozenset()


def left_out_on_purpose(status: ProviderStatus, left_out: frozenset[str]) -> bool:
    """True when ``status``'s provider library is absent because the bundle left it out
    (``left_out``: :func:`left_out_libraries`): the provider needs nothing from the host."""
    return (
        not status.library_present
        and status.library is not None
        and status.library.name in left_out
    )


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
        "problem": status.problem(),
        "fix": status.fix(),
        "closure": closure_json(status.closure),
    }


def closure_table(title: str, library: Path, closure: Closure | None) -> Table:
    """A library's closure for the text form: each soname, its path and where the loader finds
    it (a missing one: who needs it and what provides it); host-provided sonames in one row."""
    libraries = closure.libraries.values() if closure else ()
    host = [lib.soname for lib in libraries if host_provided(lib)]
    rows = []
    for lib in (lib for lib in libraries if lib.soname not in host):
        where = where_from(lib)
        if lib.path is None:
            hints = " | ".join(soname_source(lib.soname).hints)
            where += f"; needed by {', '.join(lib.needed_by)}; provided by: {hints}"
        rows.append((lib.soname, str(lib.path or "NOT FOUND"), where))
    if host:
        rows.append(("host-provided", "-", f"glibc, loader, C++ runtime: {', '.join(host)}"))
    return Table(
        f"{title}: {library}", ("soname", "path", "where the loader finds it"), tuple(rows)
    )


def _check(status: ProviderStatus, usable_gpu: bool, left_out: frozenset[str]) -> Check:
    name = status.name
    if left_out_on_purpose(status, left_out):
        assert status.library is not None
        fact = (
            f"{name}: {status.library.name} was left out of this bundle on purpose "
            f"({BUNDLE_JSON_RELPATH} leftOut)"
        )
        return Check(Kind.PROVIDER_LEFT_OUT, PASS, fact)
    if status.loadable and status.library is None:
        return Check(Kind.PROVIDER_BUILTIN, PASS, f"{name}: built into ONNX Runtime")
    if status.loadable and status.needs_preload:
        fact = f"{name}: {status.problem()}"
        return Check(Kind.PROVIDER_NEEDS_PRELOAD, WARN, fact, fix=status.fix())
    if status.loadable:
        assert status.closure is not None
        count = len(status.closure.libraries)
        fact = f"{name}: {status.library} and the {count} libraries it needs resolve"
        return Check(Kind.PROVIDER_USABLE, PASS, fact)
    # An unusable GPU provider is only a warning while another GPU provider works.
    verdict = WARN if usable_gpu and name in gpu_providers() else FAIL
    fact = f"{name} is compiled in but unusable: {status.problem()}"
    return Check(Kind.PROVIDER_UNUSABLE, verdict, fact, fix=status.fix())


def _core_check(dist: Distribution) -> tuple[Check | None, Table | None, dict[str, Any] | None]:
    """The core library's closure: the check, its table and its JSON form."""
    core = dist.core_library()
    if core is None:
        return None, None, None
    [loaded] = diagnose_load([core]).objects  # the shared pre-load diagnosis
    if loaded.closure is None:
        return Check(Kind.CORE_CLOSURE, FAIL, str(loaded.error), fix="reinstall it"), None, None
    closure = loaded.closure
    table = closure_table("core", core, closure)
    data = {"library": str(core), "closure": closure_json(closure)}
    if not closure.missing:
        fact = f"{core.name}: the {len(closure.libraries)} libraries it needs resolve"
        return Check(Kind.CORE_CLOSURE, PASS, fact), table, data
    missing = closure.missing
    fixes = "; ".join(dict.fromkeys(soname_source(lib.soname).fix for lib in missing))
    fact = f"{core.name} cannot load: missing {', '.join(lib.soname for lib in missing)}"
    return Check(Kind.CORE_CLOSURE, FAIL, fact, fix=fixes), table, data


def probe_check(dist: Distribution, compiled: CompiledIn) -> Check | None:
    """A distributions check when the child process could not report the providers."""
    if not compiled.error:
        return None
    fact = (
        f"loading ONNX Runtime from {dist.python_path or dist.root} in a child process fails: "
        f"{compiled.error} (providers below are the {compiled.source}'s)"
    )
    fix = "see the host and core findings below; reinstall the package if they are clear"
    return Check(Kind.DIST_PROBE, FAIL, fact, fix=fix)


def _statuses(dist: Distribution, compiled: CompiledIn) -> tuple[list[ProviderStatus], list[Check]]:
    """Each compiled-in provider's status, and a failed check per unreadable library."""
    statuses, unreadable = [], []
    for name in compiled.providers:
        try:
            statuses.append(
                provider_status(name, available=compiled.providers, library_dirs=dist.library_dirs)
            )
        except ElfError as exc:  # a truncated or foreign provider library
            fact = f"{name} is compiled in but its library is unreadable: {exc}"
            fix = "reinstall the distribution"
            unreadable.append(Check(Kind.PROVIDER_UNUSABLE, FAIL, fact, fix=fix))
    return statuses, unreadable


def provider_section(
    dist: Distribution, compiled: CompiledIn
) -> tuple[Section, tuple[ProviderStatus, ...]]:
    """The providers section (the core library and every compiled-in provider, with their
    closures) and the status of each provider the distribution keeps: one a bundle left out
    on purpose is not returned, since it needs no driver or CUDA library from the host."""
    left_out = left_out_libraries(dist)
    checks: list[Check] = []
    if dist.manifest is not None and compiled.source == "child process":
        checks.append(manifest_check(dist.manifest.providers, compiled.providers, left_out))
    core_check, core_table, core_data = _core_check(dist)
    checks += [core_check] if core_check else []
    statuses, unreadable = _statuses(dist, compiled)
    usable_gpu = any(s.loadable and s.name in gpu_providers() for s in statuses)
    checks += unreadable + [_check(status, usable_gpu, left_out) for status in statuses]
    data = {
        "compiledIn": list(compiled.providers),
        "learntFrom": compiled.source,
        "reportedVersion": compiled.version,
        "core": core_data,
        "providers": [_status_json(s) for s in statuses],
    }
    tables = [closure_table(s.name, s.library, s.closure) for s in statuses if s.library]
    tables = [core_table, *tables] if core_table else tables
    kept = tuple(s for s in statuses if not left_out_on_purpose(s, left_out))
    return Section("providers", tuple(checks), tuple(tables), data=data), kept

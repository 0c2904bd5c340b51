"""Host facts that decide whether the libraries load: glibc and libstdc++ versions against what
the distribution's libraries require, the NVIDIA driver, and the CUDA libraries installed
against what each provider was built for (``builtFor`` in data/providers.json)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..elf.reader import ElfInfo, read_elf
from ..elf.resolve import resolve_closure
from ..elf.versions import (
    VersionCheck,
    check_versions,
    host_versions,
    max_required,
    parse_version,
    provided_by,
)
from ..errors import ElfError
from ..report import FAIL, PASS, WARN, Check, Kind, Section
from ..runtime.catalog import provider_spec, soname_source
from ..runtime.diagnose import ProviderStatus
from ..runtime.gpu import find_cuda_libraries, nvidia_driver

__all__ = [
    "cuda_findings",
    "distribution_elves",
    "driver_findings",
    "host_section",
    "version_findings",
]

log = logging.getLogger(__name__)

_KINDS = {"GLIBC": Kind.HOST_GLIBC, "GLIBCXX": Kind.HOST_LIBSTDCXX, "CXXABI": Kind.HOST_LIBSTDCXX}
_FIXES = {
    Kind.HOST_GLIBC: "run on a host (or container) with a newer glibc, or use this flake's build "
    "(nix build .#onnxruntime-cpu), which brings its own glibc",
    Kind.HOST_LIBSTDCXX: "put a newer libstdc++.so.6 first on LD_LIBRARY_PATH (from a newer GCC), "
    "or use this flake's build (nix build .#onnxruntime-cpu)",
}


def distribution_elves(objects: Iterable[Path]) -> tuple[ElfInfo, ...]:
    """The readable ELF files among ``objects`` (a distribution's ``shared_objects()``)."""
    infos = []
    for path in objects:
        try:
            infos.append(read_elf(path))
        except ElfError as exc:
            log.debug("skipping %s: %s", path, exc)
    return tuple(infos)


def _checks(
    infos: Sequence[ElfInfo], provided: Mapping[str, str] | None
) -> list[tuple[VersionCheck, list[str]]]:
    """Per family, the deciding check and the files it is about. With ``provided`` None each file
    is judged against what its own closure resolves to (``provided_by``: a bundled libstdc++
    counts), as the linking check does; the failing check (else the highest need) decides."""
    if provided is not None:
        return [
            (c, [i.path.name for i in infos if max_required([i]).get(c.family) == c.required])
            for c in check_versions(infos, provided)
        ]
    per_family: dict[str, list[tuple[VersionCheck, str]]] = {}
    for info in infos:
        try:
            own = provided_by(resolve_closure(info.path))
        except ElfError as exc:
            log.debug("no closure for %s: %s", info.path, exc)
            own = dict(host_versions())
        for check in check_versions([info], own):
            per_family.setdefault(check.family, []).append((check, info.path.name))
    out = []
    for entries in per_family.values():
        failing = [(c, n) for c, n in entries if not c.ok]
        pool = failing or entries
        worst = max(pool, key=lambda e: _version_key(e[0].required))[0]
        names = [n for c, n in pool if c.required == worst.required]
        out.append((worst, names))
    return out


def _version_key(version: str) -> tuple[int, ...]:
    parsed = parse_version(version)
    return parsed[1] if parsed else ()


def version_findings(
    infos: Sequence[ElfInfo], provided: Mapping[str, str] | None = None
) -> tuple[list[Check], list[dict[str, Any]]]:
    """One check per GLIBC / GLIBCXX / CXXABI family the libraries need, against what each
    file's closure provides (or ``provided``, e.g. a deployment target's versions)."""
    checks, details = [], []
    for check, needers in _checks(infos, provided):
        kind = _KINDS[check.family]
        details.append(
            {"family": check.family, "required": check.required, "host": check.provided,
             "requiredBy": needers, "ok": check.ok}
        )  # fmt: skip
        if check.ok:
            fact = (
                f"{check.family}: the libraries need {check.required} at most, "
                f"the host has {check.provided}"
            )
            checks.append(Check(kind, PASS, fact))
        else:
            fact = (
                f"{', '.join(needers[:3])} need {check.required}, the host has "
                f"{check.provided or 'none'}: the loader will refuse them"
            )
            checks.append(Check(kind, FAIL, fact, fix=_FIXES[kind]))
    return checks, details


def _major(version: str | None) -> int | None:
    try:
        return int(version.split(".")[0]) if version else None
    except ValueError:
        return None


def driver_findings(statuses: Sequence[ProviderStatus]) -> tuple[list[Check], dict[str, Any]]:
    """The NVIDIA driver, failed when an NVIDIA provider in ``statuses`` (those the
    distribution keeps) is compiled in and the driver cannot serve."""
    driver = nvidia_driver()
    details = {
        "found": driver.found,
        "path": driver.path,
        "cudaVersion": driver.version,
        "deviceCount": driver.device_count,
        "error": driver.error,
    }
    users = [
        s.name
        for s in statuses
        if s.compiled_in and (spec := provider_spec(s.name)) and spec.device == "nvidia"
    ]
    if driver.found and driver.error is None:
        checks = [Check(Kind.HOST_DRIVER, PASS, driver.summary)]
        for name in users:
            soname = provider_spec(name).built_for.get("CUDA runtime")  # type: ignore[union-attr]
            wanted = _major(soname.rsplit(".so.", 1)[1]) if soname else None
            have = _major(driver.version)
            if wanted and have and have < wanted:
                fact = f"the driver supports CUDA {driver.version}; {name} needs CUDA {wanted}"
                checks.append(
                    Check(Kind.HOST_DRIVER, FAIL, fact, fix="install a newer NVIDIA driver")
                )
        return checks, details
    if not users:
        fact = (
            f"{driver.summary} (not needed: no NVIDIA provider is compiled in, "
            "or the bundle left them out)"
        )
        return [Check(Kind.HOST_DRIVER, PASS, fact)], details
    source = soname_source("libcuda.so.1")
    fix = f"{source.system} (Debian: apt install {source.debian})"
    fact = f"{driver.summary}; needed by {', '.join(users)}"
    return [Check(Kind.HOST_DRIVER, FAIL, fact, fix=fix)], details


def cuda_findings(
    statuses: Sequence[ProviderStatus],
    build_info: Mapping[str, str] | None = None,
    dirs: Sequence[tuple[str, Path]] | None = None,
) -> tuple[list[Check], list[dict[str, Any]]]:
    """For each component a compiled-in provider was built for (CUDA runtime 12, cuDNN 9, ...):
    the copies found on this host (or in the labelled ``dirs``), and whether one has the soname
    the provider needs."""
    wanted: dict[tuple[str, str], list[str]] = {}
    for status in statuses:
        spec = provider_spec(status.name)
        if status.compiled_in and spec is not None:
            for component, soname in spec.built_for.items():
                wanted.setdefault((component, soname), []).append(status.name)
    built_with = (build_info or {}).get("cuda_version")
    findings, details = [], []
    for (component, soname), users in wanted.items():
        stem = soname.rsplit(".", 1)[0]
        found = find_cuda_libraries(stem, dirs)
        details.append(
            {"component": component, "needs": soname, "neededBy": users,
             "found": [{"soname": f.soname, "version": f.version, "path": str(f.path),
                        "from": f.origin} for f in found]}
        )  # fmt: skip
        matching = [f for f in found if f.soname == soname]
        who = ", ".join(users)
        built = (
            f" (this package was built with CUDA {built_with})"
            if built_with and component == "CUDA runtime"
            else ""
        )
        if matching:
            first = matching[0]
            fact = (
                f"{component}: {soname} ({first.version}) at {first.path} ({first.origin}), "
                f"as {who} needs"
            )
            findings.append(Check(Kind.HOST_CUDA_RUNTIME, PASS, fact))
            continue
        others = ", ".join(f"{f.soname} at {f.path.parent} ({f.origin})" for f in found)
        have = f"only {others} found" if found else "none found"
        fact = f"{component}: {who} needs {soname}{built}; {have}" + (
            " (another major version cannot stand in)" if found else ""
        )
        findings.append(Check(Kind.HOST_CUDA_RUNTIME, WARN, fact, fix=soname_source(soname).fix))
    return findings, details


def host_section(
    objects: Sequence[Path],
    statuses: Sequence[ProviderStatus],
    build_info: Mapping[str, str] | None = None,
) -> Section:
    """The host section for a distribution whose shared objects are ``objects``."""
    version_list, versions = version_findings(distribution_elves(objects))
    driver_list, driver = driver_findings(statuses)
    cuda_list, cuda = cuda_findings(statuses, build_info)
    data = {
        "hostVersions": dict(host_versions()),
        "versions": versions,
        "driver": driver,
        "cuda": cuda,
        "ldLibraryPath": os.environ.get("LD_LIBRARY_PATH"),
    }
    return Section("host", tuple(version_list + driver_list + cuda_list), data=data)

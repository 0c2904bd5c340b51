"""Host facts that decide whether the libraries load: glibc and libstdc++ versions against what
the distribution's libraries require, the NVIDIA driver, and the CUDA libraries installed
against what each provider was built for (``builtFor`` in data/providers.json)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..elf.loadable import LoadDiagnosis, family_fix
from ..elf.versions import host_versions
from ..report import FAIL, PASS, WARN, Check, Kind, Section
from ..runtime.catalog import provider_spec, soname_source
from ..runtime.diagnose import ProviderStatus
from ..runtime.gpu import find_cuda_libraries, nvidia_driver

__all__ = [
    "cuda_findings",
    "driver_findings",
    "host_section",
    "version_findings",
]

log = logging.getLogger(__name__)

_KINDS = {"GLIBC": Kind.HOST_GLIBC, "GLIBCXX": Kind.HOST_LIBSTDCXX, "CXXABI": Kind.HOST_LIBSTDCXX}


def version_findings(diagnosis: LoadDiagnosis) -> tuple[list[Check], list[dict[str, Any]]]:
    """One check per GLIBC / GLIBCXX / CXXABI family the libraries (and the non-system
    libraries of their closures) need, against what each closure provides: the shared
    diagnosis (``elf.loadable``) that check's linking section shows per object."""
    checks, details = [], []
    for need in diagnosis.families:
        kind = _KINDS[need.family]
        details.append(
            {"family": need.family, "required": need.required, "host": need.provided,
             "requiredBy": list(need.needed_by), "ok": need.ok}
        )  # fmt: skip
        if need.ok:
            fact = (
                f"{need.family}: the libraries need {need.required} at most, "
                f"the host has {need.provided}"
            )
            checks.append(Check(kind, PASS, fact))
        else:
            fact = (
                f"{', '.join(need.needed_by[:3])} need{'s' if len(need.needed_by) == 1 else ''} "
                f"{need.required}, the host has {need.provided or 'none'}: the loader will "
                "refuse them"
            )
            checks.append(Check(kind, FAIL, fact, fix=family_fix({need.family: need.required})))
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
    diagnosis: LoadDiagnosis,
    statuses: Sequence[ProviderStatus],
    build_info: Mapping[str, str] | None = None,
) -> Section:
    """The host section for a distribution whose shared objects ``diagnosis`` read."""
    version_list, versions = version_findings(diagnosis)
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

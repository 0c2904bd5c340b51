"""The findings model: one finding is a severity, one line of fact and one line of fix.

Every finding carries a stable ``code`` from :data:`CODES` (documented in docs/doctor.md), so
scripts can match on it and the docs cannot drift from what the code emits.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..elf.resolve import Closure

__all__ = [
    "CODES",
    "SECTIONS",
    "SEVERITIES",
    "Finding",
    "Listing",
    "Report",
    "SectionName",
    "Severity",
]


class Severity(enum.StrEnum):
    """How much a finding matters."""

    OK = "ok"
    WARNING = "warning"
    ERROR = "error"


class SectionName(enum.StrEnum):
    """What a finding is about, in the order the report lists them."""

    DISTRIBUTIONS = "distributions"
    PROVIDERS = "providers"
    HOST = "host"
    PROCESS = "process"


SEVERITIES = tuple(Severity)
SECTIONS = tuple(SectionName)

# code -> what it is about (one line; docs/doctor.md has a row per code).
CODES: Mapping[str, str] = {
    "dist.selected": "the distribution init() would use, its version and who installed it",
    "dist.static": "a static C distribution: what applies to it (link-flags, check, host versions)",
    "dist.unusable": "init() cannot choose or validate a distribution",
    "dist.version": "an ONNX Runtime other than the version this toolkit builds and tests",
    "dist.conflict": "two onnxruntime* packages own the same files in one site-packages",
    "dist.env": "ORT_WRAPPER_DIST / ORT_LIB_LOCATION / a carried bundle, and which one wins",
    "dist.probe": "importing the selected onnxruntime in a child process failed",
    "provider.manifest": "the manifest's providers against what the runtime has compiled in",
    "provider.builtin": "a provider built into the core library (nothing to load)",
    "provider.usable": "a provider library whose whole closure resolves on the loader's path",
    "provider.needs-preload": "a provider whose libraries resolve only from nvidia-* wheels",
    "provider.unusable": "a provider that is compiled in but cannot load or has no device",
    "provider.left-out": "a provider whose library a bundle left out on purpose (--provider)",
    "core.closure": "the core library's dependency closure",
    "host.glibc": "the glibc version the libraries need against the host's",
    "host.libstdcxx": "the libstdc++ (GLIBCXX/CXXABI) versions needed against the host's",
    "host.driver": "the NVIDIA driver (libcuda.so.1): found, version, device count",
    "host.cuda-runtime": "CUDA libraries found on the host against what a provider was built for",
    "process.onnxruntime": "how many ONNX Runtime libraries this process has mapped",
    "process.duplicate": "one library family mapped from two different files in this process",
}


@dataclass(frozen=True)
class Finding:
    """One line of fact and one line of fix, with a severity."""

    section: SectionName
    code: str  # a key of CODES
    severity: Severity
    fact: str
    fix: str = ""

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {self.severity!r}")
        if self.section not in SECTIONS:
            raise ValueError(f"section must be one of {SECTIONS}, got {self.section!r}")
        if self.code not in CODES:
            raise ValueError(f"unknown finding code {self.code!r} (add it to CODES and the docs)")
        object.__setattr__(self, "section", SectionName(self.section))
        object.__setattr__(self, "severity", Severity(self.severity))

    def to_json(self) -> dict[str, str]:
        """The JSON form."""
        return {
            "section": self.section,
            "code": self.code,
            "severity": self.severity,
            "fact": self.fact,
            "fix": self.fix,
        }


@dataclass(frozen=True)
class Listing:
    """A library's dependency closure, for the report's closures part."""

    title: str  # "core" or the provider's name
    library: Path
    closure: Closure | None  # None when the library is missing


@dataclass(frozen=True)
class Report:
    """All findings plus the structured facts they were drawn from (for ``--json``), and the
    closures the text form lists."""

    findings: tuple[Finding, ...]
    details: Mapping[str, Any] = field(default_factory=dict)
    closures: tuple[Listing, ...] = ()

    def count(self, severity: Severity | str) -> int:
        """How many findings have ``severity``."""
        return sum(1 for f in self.findings if f.severity == severity)

    @property
    def exit_code(self) -> int:
        """0 when nothing is an error, 1 otherwise."""
        return 1 if self.count(Severity.ERROR) else 0

    def of(self, code: str) -> tuple[Finding, ...]:
        """The findings with ``code``."""
        return tuple(f for f in self.findings if f.code == code)

    def to_json(self) -> dict[str, Any]:
        """The JSON form: summary, findings, then the details by section."""
        return {
            "exitCode": self.exit_code,
            "summary": {s: self.count(s) for s in SEVERITIES},
            "findings": [f.to_json() for f in self.findings],
            **dict(self.details),
        }

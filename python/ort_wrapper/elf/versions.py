"""Symbol-version requirements (GLIBC, GLIBCXX, CXXABI) against what the host provides."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .reader import ElfInfo, read_elf
from .resolve import Closure, find_system_library

__all__ = [
    "FAMILIES",
    "VersionCheck",
    "check_versions",
    "host_versions",
    "max_defined",
    "max_required",
    "parse_version",
    "provided_by",
]

# Version-name families that decide whether a binary runs on a host, and the library that
# provides each family.
FAMILIES = {"GLIBC": "libc.so.6", "GLIBCXX": "libstdc++.so.6", "CXXABI": "libstdc++.so.6"}
_NAME = re.compile(r"^(GLIBCXX|GLIBC|CXXABI)_(\d+(?:\.\d+)*)$")


def parse_version(name: str) -> tuple[str, tuple[int, ...]] | None:
    """'GLIBC_2.27' -> ('GLIBC', (2, 27)); None for other version names."""
    match = _NAME.match(name)
    if not match:
        return None
    return match.group(1), tuple(int(p) for p in match.group(2).split("."))


def _fmt(family: str, version: tuple[int, ...]) -> str:
    return f"{family}_{'.'.join(map(str, version))}"


def max_required(infos: Iterable[ElfInfo]) -> dict[str, str]:
    """The highest GLIBC / GLIBCXX / CXXABI version any of ``infos`` requires."""
    best: dict[str, tuple[int, ...]] = {}
    for info in infos:
        for names in info.version_needs.values():
            for name in names:
                parsed = parse_version(name)
                if parsed and parsed[1] > best.get(parsed[0], ()):
                    best[parsed[0]] = parsed[1]
    return {family: _fmt(family, v) for family, v in sorted(best.items())}


def max_defined(path: Path, family: str) -> str | None:
    """The highest version of ``family`` that the library at ``path`` defines."""
    versions = [
        p[1] for n in read_elf(path).version_defs if (p := parse_version(n)) and p[0] == family
    ]
    return _fmt(family, max(versions)) if versions else None


@lru_cache(maxsize=1)
def host_versions() -> Mapping[str, str]:
    """The highest version of each family the host's libc and libstdc++ define."""
    found: dict[str, str] = {}
    for family, soname in FAMILIES.items():
        path = find_system_library(soname)
        if path is not None and (best := max_defined(path, family)):
            found[family] = best
    return found


def provided_by(closure: Closure) -> dict[str, str]:
    """What a file's own closure provides: the versions defined by the libc and libstdc++ it
    resolves to (a bundled libstdc++ counts), else the host's."""
    provided = dict(host_versions())
    for family, soname in FAMILIES.items():
        lib = closure.libraries.get(soname)
        if lib is not None and lib.path is not None:
            best = max_defined(lib.path, family)
            if best:
                provided[family] = best
            else:
                provided.pop(family, None)
    return provided


@dataclass(frozen=True)
class VersionCheck:
    """One family: what the files require versus what the host provides."""

    family: str
    required: str
    provided: str | None

    @property
    def ok(self) -> bool:
        """True when the host provides at least the required version."""
        if self.provided is None:
            return False
        need, have = parse_version(self.required), parse_version(self.provided)
        return bool(need and have and have[1] >= need[1])


def check_versions(
    infos: Iterable[ElfInfo], provided: Mapping[str, str] | None = None
) -> tuple[VersionCheck, ...]:
    """Compare the highest required versions of ``infos`` with the host's (or ``provided``)."""
    have = host_versions() if provided is None else provided
    return tuple(VersionCheck(f, v, have.get(f)) for f, v in max_required(infos).items())

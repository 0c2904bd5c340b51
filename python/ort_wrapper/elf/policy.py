"""The exclusion policy: which sonames come from the host and are never bundled (policy.json)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache
from pathlib import Path

__all__ = ["HostCategory", "host_category", "host_patterns"]


@dataclass(frozen=True)
class HostCategory:
    """A family of host-provided libraries and why they stay on the host."""

    name: str
    why: str
    patterns: tuple[str, ...]


@lru_cache(maxsize=1)
def _categories() -> tuple[HostCategory, ...]:
    data = json.loads(Path(__file__).with_name("policy.json").read_text())
    return tuple(
        HostCategory(name, entry["why"], tuple(entry["patterns"]))
        for name, entry in data["categories"].items()
    )


def host_category(soname: str) -> HostCategory | None:
    """The category of a host-only library (glibc, loader, driver), or None if bundleable."""
    for category in _categories():
        if any(fnmatchcase(soname, pattern) for pattern in category.patterns):
            return category
    return None


def host_patterns() -> tuple[str, ...]:
    """Every host-only pattern, e.g. for auditwheel's ``--exclude``."""
    return tuple(p for c in _categories() for p in c.patterns)

"""Abseil's static archives: found by scanning, never listed by hand, and described by the
symbols they define and need (how many there are, which the link uses, their cycles)."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .linkorder import link_order
from .resolve import Library, Resolution

__all__ = ["ABSEIL_GLOB", "AbseilReport", "abseil_report", "archive_graph", "is_abseil"]

ABSEIL_GLOB = "absl_*"


def is_abseil(name: str) -> bool:
    """Whether the link name ``name`` is one of abseil's archives."""
    return fnmatch.fnmatchcase(name, ABSEIL_GLOB)


def archive_graph(libraries: Sequence[Library]) -> dict[str, set[str]]:
    """Library-level graph over all members: ``a -> b`` when a member of ``a`` needs a symbol
    that ``b`` defines (and ``a`` does not). Used for the order of a link that keeps every
    archive (no pruning), and to find cycles."""
    defined_by: dict[str, set[str]] = {}
    for lib in libraries:
        for obj in lib.objects:
            for sym in obj.defined:
                defined_by.setdefault(sym, set()).add(lib.key)
    graph: dict[str, set[str]] = {lib.key: set() for lib in libraries}
    for lib in libraries:
        own = {s for o in lib.objects for s in o.defined}
        for obj in lib.objects:
            for sym in obj.undefined - own:
                graph[lib.key] |= defined_by.get(sym, set())
    return graph


@dataclass(frozen=True)
class AbseilReport:
    """How many abseil archives were discovered, those a link uses, and their cycles."""

    discovered: int
    referenced: tuple[str, ...]
    cycles: tuple[tuple[str, ...], ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "discovered": self.discovered,
            "referenced": len(self.referenced),
            "referencedArchives": list(self.referenced),
            "cycles": [list(c) for c in self.cycles],
        }


def abseil_report(candidates: Sequence[Library], resolution: Resolution) -> AbseilReport:
    """Describe the static abseil archives among ``candidates`` and what ``resolution`` uses."""
    absl = [c for c in candidates if c.static and is_abseil(c.name)]
    used = {lib.key for lib in resolution.used}
    groups = link_order(archive_graph(absl))
    return AbseilReport(
        discovered=len(absl),
        referenced=tuple(sorted(lib.name for lib in absl if lib.key in used)),
        cycles=tuple(g for g in groups if len(g) > 1),
    )

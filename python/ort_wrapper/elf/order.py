"""Dependency order of a set of shared libraries: each library after the ones it needs."""

from __future__ import annotations

import graphlib
from collections.abc import Sequence
from pathlib import Path

from .reader import read_elf

__all__ = ["dependency_order"]


def dependency_order(paths: Sequence[Path]) -> tuple[Path, ...]:
    """Order ``paths`` so every library comes after those of the set it names in DT_NEEDED.

    Libraries are matched by SONAME (else file name). Ties keep the given order. If the set
    has a dependency cycle (which the dynamic loader tolerates), the given order is returned
    unchanged.
    """
    infos = [read_elf(p) for p in paths]
    by_name = {}
    for index, info in enumerate(infos):
        by_name.setdefault(info.soname or info.path.name, index)
        by_name.setdefault(info.path.name, index)
    sorter: graphlib.TopologicalSorter[int] = graphlib.TopologicalSorter()
    for index, info in enumerate(infos):
        deps = {by_name[n] for n in info.needed if n in by_name} - {index}
        sorter.add(index, *deps)
    try:
        sorter.prepare()
    except graphlib.CycleError:
        return tuple(paths)
    order: list[int] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        order.extend(ready)
        sorter.done(*ready)
    return tuple(paths[i] for i in order)

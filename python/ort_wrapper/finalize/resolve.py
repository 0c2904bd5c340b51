"""Which libraries a static ONNX Runtime actually needs: a linker's symbol resolution,
simulated member by member from the public C API, over candidate libraries.

A static archive contributes only the members that define a symbol still undefined (and
their own needs, transitively); a shared library contributes all its exports and is not
followed further. The result is the set of members pulled in and the library graph of who
takes symbols from whom, which ``linkorder`` turns into an order.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from ..elf.archive import ObjectSymbols

__all__ = [
    "Library",
    "Origin",
    "Resolution",
    "library_name",
    "linked_without_pruning",
    "public_api_symbols",
    "resolve",
]

log = logging.getLogger(__name__)


class Origin(StrEnum):
    """Where a candidate library was found, in the order the linker should prefer it."""

    DIST = "dist"  # in the distribution
    BUILD = "build"  # built in-tree
    SYSTEM = "system"


_ORIGIN_RANK = {origin: rank for rank, origin in enumerate(Origin)}
_SONAME = re.compile(r"^lib(.+?)\.(?:so(?:\.[0-9.]+)?|a|(?:[0-9.]+\.)?dylib)$")


def library_name(filename: str) -> str | None:
    """The link name of ``libNAME.a`` / ``libNAME.so[.N]`` / ``libNAME[.N].dylib``
    (``NAME``), else None."""
    match = _SONAME.match(filename)
    return match[1] if match else None


@dataclass(frozen=True)
class Library:
    """A candidate library and its symbols (one object for a shared library)."""

    name: str  # link name: "re2", "absl_base", "onnxruntime"
    path: str  # as the linker will see it (inside the sysroot for system libraries)
    static: bool
    origin: Origin
    objects: tuple[ObjectSymbols, ...]
    needed: tuple[str, ...] = ()  # DT_NEEDED of a shared library

    @property
    def key(self) -> str:
        """Unique among candidates: the name, marked when shared."""
        return self.name if self.static else f"{self.name}.so"

    def _rank(self) -> tuple[int, int, int, str]:
        size = sum(len(o.defined) for o in self.objects)
        return (_ORIGIN_RANK[self.origin], 0 if self.static else 1, -size, self.name)


@dataclass(frozen=True)
class Resolution:
    """What a link from ``roots`` pulls in."""

    used: tuple[Library, ...]  # libraries with at least one member pulled, in candidate order
    pulled: dict[str, frozenset[int]]  # library key -> indices of the pulled objects
    graph: dict[str, set[str]]  # library key -> keys of the libraries it takes symbols from
    unresolved: frozenset[str]  # left to the system (libc, libstdc++, libm ...)
    forced_shared: frozenset[str] = field(default_factory=frozenset)
    # candidates the link may take symbols from, in candidate order, and the keys of the
    # static archives left out (linked shared instead, or mostly a copy of such a library)
    usable: tuple[Library, ...] = ()
    excluded: frozenset[str] = field(default_factory=frozenset)


def public_api_symbols(library: Library) -> frozenset[str]:
    """ORT's C entry points defined in ``library``: unmangled ``Ort*`` symbols."""
    return frozenset(
        s for o in library.objects for s in o.defined if s.startswith("Ort") and "@" not in s
    )


def _resolve_once(
    roots: frozenset[str], candidates: Sequence[Library]
) -> tuple[dict[str, set[int]], dict[str, set[str]], set[str]]:
    providers: dict[str, tuple[Library, int]] = {}
    for lib in sorted(candidates, key=Library._rank):
        for i, obj in enumerate(lib.objects):
            for sym in obj.defined:
                providers.setdefault(sym, (lib, i))
    pulled: dict[str, set[int]] = {}
    graph: dict[str, set[str]] = {}
    unresolved: set[str] = set()
    pending: list[tuple[str | None, str]] = [(None, s) for s in sorted(roots)]
    while pending:
        user, sym = pending.pop()
        if sym not in providers:
            unresolved.add(sym)
            continue
        lib, i = providers[sym]
        if user is not None and user != lib.key:
            graph.setdefault(user, set()).add(lib.key)
        taken = pulled.setdefault(lib.key, set())
        graph.setdefault(lib.key, set())
        if i in taken:
            continue
        taken.add(i)
        if lib.static:
            pending.extend((lib.key, s) for s in lib.objects[i].undefined)
    return pulled, graph, unresolved


def _mostly_in(library: Library, exports: set[str]) -> bool:
    defined = {s for o in library.objects for s in o.defined}
    return bool(defined) and 2 * len(defined & exports) > len(defined)


def _usable(candidates: Sequence[Library], forced: set[str]) -> list[Library]:
    """The candidates a link may take from: no static archive of a library linked shared
    (``forced``), nor one that is mostly a copy of such a library's exports."""
    exports = {
        s
        for c in candidates
        if not c.static and c.name in forced
        for o in c.objects
        for s in o.defined
    }
    return [
        c for c in candidates if not (c.static and (c.name in forced or _mostly_in(c, exports)))
    ]


def _linked_both_ways(used: Sequence[Library], shared_names: set[str]) -> set[str]:
    """Names of the static archives in ``used`` that a used shared library also needs
    (DT_NEEDED) in shared form."""
    wanted = {
        name
        for lib in used
        if not lib.static
        for name in map(library_name, lib.needed)
        if name in shared_names
    }
    return {lib.name for lib in used if lib.static and lib.name in wanted}


def resolve(roots: frozenset[str], candidates: Sequence[Library]) -> Resolution:
    """Resolve ``roots`` over ``candidates`` as a linker would.

    One copy of each library: when a shared library that is used needs (DT_NEEDED) a library
    that would otherwise be linked statically, that one is linked shared too (for example
    protobuf under a shared-only ONNX), and the resolution is run again. A static archive
    that is mostly a copy of such a library (protobuf-lite of protobuf) is then left out too.
    """
    forced: set[str] = set()
    shared_names = {lib.name for lib in candidates if not lib.static}
    while True:
        usable = _usable(candidates, forced)
        pulled, graph, unresolved = _resolve_once(roots, usable)
        used = [c for c in usable if c.key in pulled]
        clash = _linked_both_ways(used, shared_names) - forced
        if not clash:
            break
        log.info("linking %s shared: a shared dependency needs it", ", ".join(sorted(clash)))
        forced |= clash
    kept = {id(c) for c in usable}
    return Resolution(
        used=tuple(used),
        pulled={k: frozenset(v) for k, v in pulled.items()},
        graph=graph,
        unresolved=frozenset(unresolved),
        forced_shared=frozenset(forced),
        usable=tuple(usable),
        excluded=frozenset(c.key for c in candidates if id(c) not in kept),
    )


def linked_without_pruning(resolution: Resolution) -> list[Library]:
    """What a link that keeps every archive takes: one form of each usable library (static
    unless it must be shared), never a static archive ``resolve`` left out, nor the shared
    form of one left out only for being a copy (protobuf-lite beside a shared protobuf)."""
    dropped = set(resolution.excluded) - resolution.forced_shared  # a static key is its name
    static = {lib.name for lib in resolution.usable if lib.static}
    return [
        lib
        for lib in resolution.usable
        if lib.name not in dropped and lib.static == (lib.name in static)
    ]

"""Dependency closures with the dynamic loader's search rules, through auditwheel's lddtree.

auditwheel's ``lddtree.ldd`` walks DT_NEEDED against RPATH/RUNPATH, LD_LIBRARY_PATH, ld.so.conf
and the default directories, skipping libraries of another architecture. This module runs it with
an explicit search path (so callers can add directories or clear LD_LIBRARY_PATH), and adds what
it does not give: which search source each library came from and who needs it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from .policy import host_category
from .reader import read_elf

__all__ = [
    "Closure",
    "LibrarySource",
    "ResolvedLibrary",
    "conf_dirs",
    "env_dirs",
    "find_system_library",
    "resolve_closure",
]

log = logging.getLogger(__name__)

DEFAULT_DIRS = ("/lib64", "/usr/lib64", "/lib", "/usr/lib")


class LibrarySource(StrEnum):
    """Which search rule found a library, as the dynamic loader applies them (or MISSING)."""

    RPATH = "rpath"
    RUNPATH = "runpath"
    LD_LIBRARY_PATH = "LD_LIBRARY_PATH"
    SEARCH_DIR = "search-dir"  # a directory the caller added after LD_LIBRARY_PATH
    LD_SO_CONF = "ld.so.conf"
    DEFAULT = "default"
    MISSING = "missing"


@dataclass(frozen=True)
class ResolvedLibrary:
    """One soname of a closure: where it was found (or not) and who needs it."""

    soname: str
    path: Path | None  # the path the loader would open; None when not found
    source: LibrarySource
    needed_by: tuple[str, ...]
    needed: tuple[str, ...]

    @property
    def found(self) -> bool:
        """True when the library was found on the search path."""
        return self.path is not None

    @property
    def host_category(self) -> str | None:
        """'glibc', 'loader' or 'driver' for host-only libraries (never bundled)."""
        category = host_category(self.soname)
        return category.name if category else None


@dataclass(frozen=True)
class Closure:
    """The dependency closure of one ELF file."""

    root: Path
    needed: tuple[str, ...]
    libraries: Mapping[str, ResolvedLibrary]  # soname -> library, in discovery order

    @property
    def missing(self) -> tuple[ResolvedLibrary, ...]:
        """Libraries no search directory provides."""
        return tuple(lib for lib in self.libraries.values() if not lib.found)


@lru_cache(maxsize=1)
def conf_dirs() -> tuple[str, ...]:
    """The directories /etc/ld.so.conf (and its includes) lists, parsed once."""
    from auditwheel.lddtree import parse_ld_so_conf

    conf = "/etc/ld.so.conf"
    return tuple(parse_ld_so_conf(conf)) if os.path.exists(conf) else ()


def env_dirs(ld_library_path: str | None = None) -> tuple[str, ...]:
    """LD_LIBRARY_PATH's directories (``ld_library_path`` replaces the environment's value)."""
    value = os.environ.get("LD_LIBRARY_PATH", "") if ld_library_path is None else ld_library_path
    return tuple(os.path.normpath(p) for p in value.split(":") if p)


def _origin_expand(entries: Iterable[str], origin: Path) -> tuple[str, ...]:
    return tuple(
        os.path.normpath(e.replace("$ORIGIN", str(origin)).replace("${ORIGIN}", str(origin)))
        for e in entries
    )


def find_system_library(soname: str) -> Path | None:
    """Find ``soname`` in ld.so.conf's directories and the default ones (the ld.so cache's view)."""
    for directory in (*conf_dirs(), *DEFAULT_DIRS):
        candidate = Path(directory) / soname
        if candidate.exists():
            return candidate
    return None


def resolve_closure(
    path: Path | str,
    *,
    search_dirs: Iterable[Path | str] = (),
    ld_library_path: str | None = None,
) -> Closure:
    """Resolve ``path``'s DT_NEEDED closure.

    ``search_dirs`` are searched after LD_LIBRARY_PATH; ``ld_library_path`` replaces the
    environment's value (pass "" to resolve as with LD_LIBRARY_PATH unset). Raises ElfError when
    ``path`` is not ELF.
    """
    from auditwheel.lddtree import ldd

    path = Path(path)
    root = read_elf(path)  # typed error for non-ELF input
    env = env_dirs(ld_library_path)
    extra = tuple(os.path.normpath(str(d)) for d in search_dirs)
    ldpaths = {"conf": list(conf_dirs()), "env": [*env, *extra], "interp": list(DEFAULT_DIRS)}
    tree = ldd(path, ldpaths=ldpaths)
    sources = [
        (LibrarySource.RPATH, _origin_expand(root.rpath, path.parent)),
        (LibrarySource.RUNPATH, _origin_expand(root.runpath, path.parent)),
        (LibrarySource.LD_LIBRARY_PATH, env),
        (LibrarySource.SEARCH_DIR, extra),
        (LibrarySource.LD_SO_CONF, conf_dirs()),
        (LibrarySource.DEFAULT, DEFAULT_DIRS),
    ]
    needed_by: dict[str, list[str]] = {}
    for soname in tree.needed:
        needed_by.setdefault(soname, []).append(path.name)
    for soname, lib in tree.libraries.items():
        for dep in lib.needed:
            needed_by.setdefault(dep, []).append(soname)
    libraries: dict[str, ResolvedLibrary] = {}
    for soname, lib in tree.libraries.items():
        if lib.path is None:
            source, found = LibrarySource.MISSING, None
        else:
            found = Path(lib.path)
            directory = os.path.normpath(str(found.parent))
            source = next(
                (name for name, dirs in sources if directory in dirs), LibrarySource.RPATH
            )
        libraries[soname] = ResolvedLibrary(
            soname, found, source, tuple(needed_by.get(soname, ())), tuple(lib.needed)
        )
    return Closure(path, tuple(tree.needed), libraries)

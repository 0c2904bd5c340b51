"""The closure of a distribution: every file a bundle holds, where it comes from and why.

Roots are the distribution's ELF files (its runtime-loaded providers included). Each root's
DT_NEEDED closure is resolved with ``elf.resolve.resolve_closure`` (RUNPATH/RPATH, LD_LIBRARY_PATH,
the user's search directories, ld.so.conf and the default directories); libraries that a bundled
library dlopens by soname (``companions.json``) become roots too. Host-only libraries
(``elf/policy.json``: glibc, the loader, the GPU driver) are recorded, never bundled; everything
else is bundled once, under its soname in ``lib/``. Nothing is written here: a missing library is
a BundleError before any output exists.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from ..elf.policy import host_category
from ..elf.reader import read_elf
from ..elf.resolve import DEFAULT_DIRS, env_dirs, find_system_library, resolve_closure
from ..errors import BundleError
from ..files import relpath_problem
from ..manifest import FileKind
from ..runtime.catalog import soname_source
from . import LIB_DIR
from .companions import companions_of
from .source import PlannedFile, Source

__all__ = ["HostLibrary", "Plan", "plan_bundle", "runpath_for"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HostLibrary:
    """A library left to the host by policy (glibc, loader, GPU driver)."""

    soname: str
    category: str
    why: str
    path: str | None  # where this host has it (None: absent here, e.g. no GPU driver)
    needed_by: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    """What a bundle of ``source`` holds."""

    source: Source
    files: tuple[PlannedFile, ...]  # sorted by dest
    host: tuple[HostLibrary, ...]  # sorted by soname
    search_dirs: tuple[Path, ...]

    @property
    def total_bytes(self) -> int:
        """Bytes to copy."""
        return sum(f.src.stat().st_size for f in self.files)


def runpath_for(dest: str) -> str:
    """The RUNPATH a bundled ELF file gets: ``$ORIGIN`` plus the way to ``lib/`` if elsewhere."""
    parent = PurePosixPath(dest).parent
    if parent == PurePosixPath(LIB_DIR):
        return "$ORIGIN"
    return f"$ORIGIN:$ORIGIN/{os.path.relpath(LIB_DIR, parent.as_posix())}"


@dataclass
class _Collector:
    """The closure being collected: bundled entries by destination, host-only and missing sonames,
    and the queue of roots still to walk."""

    dirs: tuple[Path, ...]
    ld_library_path: str | None
    entries: dict[str, PlannedFile] = field(default_factory=dict)
    by_name: dict[str, str] = field(default_factory=dict)  # soname / file name -> dest
    host: dict[str, HostLibrary] = field(default_factory=dict)
    missing: dict[str, list[str]] = field(default_factory=dict)
    queue: list[Path] = field(default_factory=list)

    def reason(self, name: str, why: str) -> None:
        entry = self.entries[self.by_name[name]]
        if why not in entry.reasons:
            self.entries[entry.dest] = replace(entry, reasons=(*entry.reasons, why))

    def add(self, soname: str, path: Path, found_via: str, why: str) -> None:
        if "/" in soname or relpath_problem(soname):
            raise BundleError(f"{soname!r} ({why}) is a path, not a library file name: refused")
        dest = f"{LIB_DIR}/{soname}"
        self.entries[dest] = PlannedFile(
            path, dest, FileKind.SHARED, "dependency", True, found_via, (why,)
        )
        self.by_name[soname] = dest
        self.queue.append(path)
        self.companions(soname, path.parent)

    def note_host(self, soname: str, path: Path | None, needed_by: Iterable[str]) -> None:
        category = host_category(soname)
        assert category is not None
        old = self.host.get(soname)
        users = tuple(dict.fromkeys([*(old.needed_by if old else ()), *needed_by]))
        found = old.path if old and old.path else (str(path) if path else None)
        self.host[soname] = HostLibrary(soname, category.name, category.why, found, users)

    def find(self, soname: str, near: Path) -> tuple[Path, str] | None:
        """Where a soname that is dlopened (not NEEDED) would be found, and from which source."""
        candidates = [("companion", near)]
        candidates += [("LD_LIBRARY_PATH", Path(d)) for d in env_dirs(self.ld_library_path)]
        candidates += [("search-dir", d) for d in self.dirs]
        for source, directory in candidates:
            if (directory / soname).is_file():
                return directory / soname, source
        system = find_system_library(soname)
        return (system, "ld.so.conf") if system else None

    def companions(self, soname: str, directory: Path) -> None:
        """Add what ``soname`` (found in ``directory``) dlopens, per companions.json."""
        spec = companions_of(soname)
        if spec is None:
            return
        why = f"dlopened by {soname} ({spec.why})"
        for path in spec.sibling_files(directory):
            if path.name in self.by_name:
                self.reason(path.name, why)
            else:
                self.add(path.name, path, "companion", why)
        for name in spec.sonames:
            if name in self.by_name:
                self.reason(name, why)
            elif host_category(name):
                self.note_host(name, find_system_library(name), [f"{soname} (dlopen)"])
            elif (found := self.find(name, directory)) is not None:
                self.add(name, found[0], found[1], why)
            else:
                self.missing.setdefault(name, []).append(f"{soname} (dlopen)")

    def walk(self, root: Path) -> None:
        """Resolve ``root``'s DT_NEEDED closure and sort each soname: host, known, missing, new."""
        closure = resolve_closure(root, search_dirs=self.dirs, ld_library_path=self.ld_library_path)
        for lib in closure.libraries.values():
            why = [f"NEEDED by {user}" for user in lib.needed_by]
            if host_category(lib.soname):
                self.note_host(lib.soname, lib.path, lib.needed_by)
            elif lib.soname in self.by_name:
                for w in why:
                    self.reason(lib.soname, w)
            elif lib.path is None:
                self.missing.setdefault(lib.soname, []).extend(lib.needed_by)
            else:
                self.add(lib.soname, lib.path, lib.source, why[0] if why else "NEEDED")
                for w in why[1:]:
                    self.reason(lib.soname, w)


def _missing_error(source: Source, collector: _Collector) -> BundleError:
    lines = []
    for soname in sorted(collector.missing):
        users = ", ".join(dict.fromkeys(collector.missing[soname]))
        lines.append(f"  {soname} (needed by {users}; fix: {soname_source(soname).fix})")
    env = ":".join(env_dirs(collector.ld_library_path))
    searched = [
        "RUNPATH/RPATH of each file",
        f"--search-dir: {', '.join(map(str, collector.dirs)) or '(none)'}",
        f"LD_LIBRARY_PATH: {env or '(unset)'}",
        f"ld.so.conf and {', '.join(DEFAULT_DIRS)}",
    ]
    return BundleError(
        f"cannot bundle {source.path}: {len(lines)} needed "
        f"{'library is' if len(lines) == 1 else 'libraries are'} not found anywhere:\n"
        + "\n".join(lines)
        + "\nsearched: "
        + "; ".join(searched)
        + "\nadd the directory that holds them with --search-dir, or bundle only the providers "
        "whose libraries you have with --provider (e.g. --provider cuda); nothing was written"
    )


def plan_bundle(
    source: Source,
    search_dirs: Iterable[Path | str] = (),
    *,
    ld_library_path: str | None = None,
) -> Plan:
    """Resolve ``source``'s closure; BundleError listing every library that cannot be found.

    ``search_dirs`` are searched after LD_LIBRARY_PATH (e.g. site-packages ``nvidia/*/lib``);
    ``ld_library_path`` replaces the environment's value when given.
    """
    user_dirs = tuple(Path(d).expanduser().absolute() for d in search_dirs)
    for directory in user_dirs:
        if not directory.is_dir():
            raise BundleError(f"--search-dir {directory}: no such directory")
    collector = _Collector((*user_dirs, *source.library_dirs), ld_library_path)
    for f in source.files:
        collector.entries[f.dest] = f
        if f.elf:
            collector.by_name.setdefault(f.src.name, f.dest)
            soname = read_elf(f.src).soname
            if soname:
                collector.by_name.setdefault(soname, f.dest)
    for r in source.runtime_loaded:
        e, loader = collector.entries[r.library], PurePosixPath(r.loaded_by).name
        why = f"runtime-loaded by {loader} ({r.provider})"
        collector.entries[r.library] = replace(e, reasons=(*e.reasons, why))
    collector.queue.extend(f.src for f in source.elf_files)
    for f in source.elf_files:
        collector.companions(read_elf(f.src).soname or f.src.name, f.src.parent)
    seen: set[Path] = set()
    while collector.queue:
        root = collector.queue.pop(0)
        if root not in seen:
            seen.add(root)
            collector.walk(root)
    if collector.missing:
        raise _missing_error(source, collector)
    files = tuple(e for _, e in sorted(collector.entries.items()))
    plan = Plan(source, files, tuple(collector.host[k] for k in sorted(collector.host)), user_dirs)
    log.info("planned %d files (%d bytes) from %s", len(files), plan.total_bytes, source.path)
    return plan

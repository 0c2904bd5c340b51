"""Whether a distribution's shared objects can load on this host, read from the files before
anything is loaded: every object's ``DT_NEEDED`` closure (``resolve.resolve_closure``) and the
highest GLIBC / GLIBCXX / CXXABI version the closure needs against what it resolves to
(``versions``). The one diagnosis behind ``check``'s linking section, ``doctor``'s host and
distribution findings, and the reason ``init()`` gives for a library folder that cannot load.

Libraries the loader finds in ld.so.conf's or the default directories are this host's own and
run here by definition; every other library of a closure (beside the object, on its RUNPATH, on
LD_LIBRARY_PATH) is judged like the object itself, so a dependency extracted next to the
library that needs a newer glibc is named too.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ElfError
from .reader import ElfInfo, read_elf
from .resolve import Closure, LibrarySource, ResolvedLibrary, resolve_closure
from .versions import VersionCheck, check_versions, host_versions, parse_version, provided_by

__all__ = [
    "FamilyNeed",
    "LoadDiagnosis",
    "ObjectLoad",
    "diagnose_load",
    "family_fix",
    "missing_fix",
]

log = logging.getLogger(__name__)

_SYSTEM = (LibrarySource.LD_SO_CONF, LibrarySource.DEFAULT)
_LIBSTDCXX = "a newer libstdc++.so.6 first on LD_LIBRARY_PATH (from a newer GCC)"


def family_fix(families: Mapping[str, str]) -> str:
    """The fix for a host older than ``families`` (family -> the version needed, e.g. GLIBC ->
    GLIBC_2.38): a newer host, a chroot or container, or a build made for this host."""
    host = host_versions()
    ways = []
    if "GLIBC" in families:
        parsed = parse_version(families["GLIBC"])
        floor = ".".join(map(str, parsed[1])) if parsed else families["GLIBC"]
        ways.append(f"run it on a host with glibc {floor} or newer")
    cxx = [v for f, v in families.items() if f != "GLIBC"]
    if cxx:
        ways.append(f"put {_LIBSTDCXX} that defines {' and '.join(cxx)}")
    ways.append(f"run it in a chroot or container that has {' and '.join(families.values())}")
    this_host = ", ".join(host.get(f, f"no {f}") for f in families)
    return (
        f"{'; or '.join(ways)}; or use a distribution built for this host's {this_host} "
        "(the PyPI wheel onnxruntime is manylinux_2_27; this flake's nix build "
        ".#onnxruntime-cpu brings its own glibc)"
    )


def missing_fix(missing: Mapping[str, Sequence[str]], in_folder: Mapping[str, Path]) -> str:
    """The fix for sonames no search directory provides: the folder that has them onto
    LD_LIBRARY_PATH, else install them."""
    beside = sorted({str(p.parent) for s, p in in_folder.items() if s in missing})
    absent = [s for s in missing if s not in in_folder]
    parts = []
    if beside:
        there = [s for s in missing if s in in_folder]
        parts.append(
            f"{', '.join(there)} {'is' if len(there) == 1 else 'are'} in the distribution but not "
            f"on the loader's path: LD_LIBRARY_PATH={':'.join(beside)}"
        )
    if absent:
        parts.append(
            f"install {', '.join(absent)} (the distribution's own packages, e.g. Debian's "
            "Depends), or put the folder holding them on LD_LIBRARY_PATH"
        )
    return "; ".join(parts)


@dataclass(frozen=True)
class ObjectLoad:
    """One shared object: its facts, its closure and what its closure needs and provides."""

    path: Path
    info: ElfInfo | None = None
    closure: Closure | None = None
    error: str | None = None  # unreadable: why
    provided: Mapping[str, str] = field(default_factory=dict)  # what its closure resolves to
    checks: tuple[VersionCheck, ...] = ()  # per family: the object's and its non-system libs'
    needed_by: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # family -> files

    @property
    def missing(self) -> tuple[ResolvedLibrary, ...]:
        """The closure's libraries no search directory provides."""
        return self.closure.missing if self.closure is not None else ()


@dataclass(frozen=True)
class FamilyNeed:
    """One version family across every object: the deciding requirement (the failing one,
    else the highest), what provides the family, and the files that need exactly it."""

    family: str
    required: str
    provided: str | None
    needed_by: tuple[str, ...]
    ok: bool


@dataclass(frozen=True)
class LoadDiagnosis:
    """Every object's closure and version needs, before anything is loaded."""

    objects: tuple[ObjectLoad, ...]
    missing: Mapping[str, tuple[str, ...]]  # soname -> the files that need it
    in_folder: Mapping[str, Path]  # missing sonames present beside the objects
    families: tuple[FamilyNeed, ...]

    @property
    def ok(self) -> bool:
        """True when every object reads, every library resolves and every version is met."""
        return (
            not self.missing
            and all(f.ok for f in self.families)
            and not any(o.error for o in self.objects)
        )

    def problems(self) -> list[tuple[str, str]]:
        """(what, fix) for each reason the objects cannot load, in the loader's order of
        concern: unreadable files, missing libraries, then too-old versions."""
        out = [(o.error, "reinstall or replace it") for o in self.objects if o.error]
        if self.missing:
            what = (
                f"{len(self.missing)} libraries the loader does not find: {', '.join(self.missing)}"
            )
            out.append((what, missing_fix(self.missing, self.in_folder)))
        failing = [need for need in self.families if not need.ok]
        if failing:
            what = (
                f"{' and '.join(n.required for n in failing)} needed, the host has "
                f"{' and '.join(n.provided or 'no ' + n.family for n in failing)}"
            )
            out.append((what, family_fix({n.family: n.required for n in failing})))
        return out

    def summary(self) -> str:
        """One line: what stops the objects from loading ('' when nothing does)."""
        return "; ".join(what for what, _ in self.problems())

    def refusal(self, library: Path) -> str:
        """One line: ``library`` (of these objects) cannot load here, and why."""
        return (
            f"{library} cannot load on this host (read from its files; nothing was loaded): "
            f"{self.summary()}"
        )

    def fix(self) -> str:
        """One line: what to do about every problem ('' when there is none)."""
        return "; ".join(dict.fromkeys(fix for _, fix in self.problems()))


def _own_checks(
    info: ElfInfo, closure: Closure, provided: Mapping[str, str]
) -> tuple[tuple[VersionCheck, ...], dict[str, tuple[str, ...]]]:
    """Per family: the deciding check over the object and the non-system libraries of its
    closure, and the files that need exactly that version."""
    judged = [info]
    for lib in closure.libraries.values():
        if lib.path is not None and lib.source not in _SYSTEM and lib.host_category is None:
            try:
                judged.append(read_elf(lib.path))
            except ElfError as exc:
                log.debug("not judging %s: %s", lib.path, exc)
    checks = check_versions(judged, provided)
    needed_by = {
        c.family: tuple(
            i.path.name for i in judged if any(c.required in n for n in i.version_needs.values())
        )
        for c in checks
    }
    return checks, needed_by


def _object(
    path: Path,
    preloaded: Mapping[str, Path],
    ld_library_path: str | None,
    target: Mapping[str, str] | None,
) -> ObjectLoad:
    try:
        info = read_elf(path)
        closure = resolve_closure(path, ld_library_path=ld_library_path)
    except ElfError as exc:
        return ObjectLoad(path, error=str(exc))
    if preloaded:  # a soname the manifest loads first is not missing
        libs = {s: lib for s, lib in closure.libraries.items() if lib.found or s not in preloaded}
        closure = Closure(closure.root, closure.needed, libs)
    provided = provided_by(closure) if target is None else dict(target)
    checks, needed_by = _own_checks(info, closure, provided)
    return ObjectLoad(path, info, closure, None, provided, checks, needed_by)


def _version_key(version: str) -> tuple[int, ...]:
    parsed = parse_version(version)
    return parsed[1] if parsed else ()


def _families(objects: Iterable[ObjectLoad]) -> tuple[FamilyNeed, ...]:
    per_family: dict[str, list[tuple[VersionCheck, tuple[str, ...]]]] = {}
    for obj in objects:
        for check in obj.checks:
            per_family.setdefault(check.family, []).append((check, obj.needed_by[check.family]))
    out = []
    for family, entries in sorted(per_family.items()):
        pool = [e for e in entries if not e[0].ok] or entries
        worst = max(pool, key=lambda e: _version_key(e[0].required))[0]
        names = tuple(
            dict.fromkeys(n for c, ns in pool if c.required == worst.required for n in ns)
        )
        out.append(FamilyNeed(family, worst.required, worst.provided, names, worst.ok))
    return tuple(out)


def diagnose_load(
    objects: Sequence[Path],
    preloaded: Mapping[str, Path] | None = None,
    ld_library_path: str | None = None,
    target: Mapping[str, str] | None = None,
) -> LoadDiagnosis:
    """Diagnose ``objects`` (a distribution's ``shared_objects()``) with the loader's rules
    (``ld_library_path`` replaces the environment's; ``preloaded``: sonames loaded first);
    versions against what each closure resolves to, or against ``target`` (family -> version,
    e.g. a deployment host's)."""
    loads = tuple(_object(p, preloaded or {}, ld_library_path, target) for p in objects)
    missing: dict[str, list[str]] = {}
    for obj in loads:
        for lib in obj.missing:
            who = missing.setdefault(lib.soname, [])
            who.extend(n for n in lib.needed_by if n not in who)
    folders = {p.parent for p in objects}
    in_folder = {
        soname: folder / soname
        for soname in missing
        for folder in sorted(folders)
        if os.path.lexists(folder / soname)
    }
    return LoadDiagnosis(
        loads,
        {s: tuple(w) for s, w in missing.items()},
        in_folder,
        _families(o for o in loads if o.error is None),
    )

"""Link flags of a distribution: computed once by ``finalize`` (ordered, with ``${prefix}``
for the distribution's root; for GNU ld, or for darwin's ld64, see ``darwin``) and printed for
C compilers, Cargo, CMake or as JSON."""

from __future__ import annotations

import json
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..elf.archive import ObjectFormat
from ..errors import BuildError, EscapeError
from ..escape import cargo_directive, cmake_list_item, shell_join
from ..manifest import FRAMEWORK, PREFIX_VAR
from . import darwin
from .candidates import as_built
from .linkorder import link_order
from .resolve import Library

__all__ = ["FORMATS", "PREFIX_VAR", "format_flags", "order_flags"]

START_GROUP, END_GROUP = "-Wl,--start-group", "-Wl,--end-group"
FORMATS = ("cc", "cargo", "cmake", "json")


def _default_dirs() -> frozenset[str]:
    multiarch = f"{platform.machine()}-linux-gnu"
    plain = ("/lib", "/usr/lib", "/lib64", "/usr/lib64", "/usr/local/lib")
    return frozenset((*plain, f"/lib/{multiarch}", f"/usr/lib/{multiarch}"))


def order_flags(
    graph: Mapping[str, set[str]],
    libraries: Mapping[str, Library],
    in_dist: Mapping[str, str],
    sysroot: Path | None,
    system: Sequence[str],
    fmt: ObjectFormat = ObjectFormat.ELF,
) -> list[str]:
    """Flags for the libraries of ``graph`` in link order, cycles grouped, then ``system``.

    ``in_dist`` maps a library key to its path inside the distribution (``lib/libx.a``);
    other libraries are the system's: ``-l:libx.a`` or ``-lx``, with ``-L`` for a folder
    outside the linker's default search path. For Mach-O (``fmt``), what ld64 takes: a
    system archive by its full path, and no groups.
    """
    macho = fmt is ObjectFormat.MACHO
    defaults = darwin.DEFAULT_DIRS if macho else _default_dirs()
    search: list[str] = []
    flags: list[str] = []
    for group in link_order(graph):
        entries = []
        for key in group:
            lib = libraries[key]
            if key in in_dist:
                entries.append(f"{PREFIX_VAR}/{in_dist[key]}")
                continue
            built = as_built(lib.path, sysroot)
            if macho and lib.static:
                entries.append(built)
                continue
            folder = built.rsplit("/", 1)[0]
            if folder not in defaults and f"-L{folder}" not in search:
                search.append(f"-L{folder}")
            entries.append(f"-l:{Path(built).name}" if lib.static else f"-l{lib.name}")
        grouped = len(entries) > 1 and not macho
        flags += [START_GROUP, *entries, END_GROUP] if grouped else entries
    return [*search, *flags, *system]


_FLAG = "the link flag"


def _cargo_lib(flag: str, search: list[str]) -> str:
    if flag.startswith("-l:"):
        kind = "static" if flag.endswith(".a") else "dylib"
        return cargo_directive("rustc-link-lib", f"{kind}:+verbatim={_lib_name(flag[3:])}", _FLAG)
    if flag.startswith("-l"):
        return cargo_directive("rustc-link-lib", f"dylib={_lib_name(flag[2:])}", _FLAG)
    if flag.startswith("/") and flag.endswith(".a"):
        path = Path(flag)
        search.append(str(path.parent))
        name = _lib_name(path.name.removeprefix("lib").removesuffix(".a"))
        return cargo_directive("rustc-link-lib", f"static={name}", _FLAG)
    return cargo_directive("rustc-link-arg", flag, _FLAG)


def _lib_name(name: str) -> str:
    """A library name for ``rustc-link-lib``, where ``:`` and ``=`` are syntax (a rename, a
    kind)."""
    if not name or ":" in name or "=" in name:
        raise EscapeError(
            f"{_FLAG}'s library name {name!r} is empty or holds ':' or '=': refused in a "
            "cargo rustc-link-lib line"
        )
    return name


def _joined_frameworks(flags: Sequence[str]) -> list[str]:
    """``-framework NAME`` (two arguments on a command line) as one item, as CMake and Cargo
    take a darwin framework."""
    items: list[str] = []
    for flag in flags:
        if items and items[-1] == FRAMEWORK:
            items[-1] = f"{FRAMEWORK} {flag}"
        else:
            items.append(flag)
    return items


def _cargo(flags: Sequence[str]) -> list[str]:
    search: list[str] = []
    libs: list[str] = []
    group: list[str] | None = None
    for flag in _joined_frameworks(flags):
        if flag.startswith(f"{FRAMEWORK} "):
            name = _lib_name(flag.split(" ", 1)[1])
            libs.append(cargo_directive("rustc-link-lib", f"framework={name}", _FLAG))
        elif flag == START_GROUP:
            group = []
        elif flag == END_GROUP and group is not None:
            # rustc cannot wrap libraries in a group: repeating a cycle's members as many
            # times as it has members lets a single-pass linker resolve it.
            libs += group * len(group)
            group = None
        elif flag.startswith("-L"):
            search.append(flag[2:])
        else:
            line = _cargo_lib(flag, search)
            (libs if group is None else group).append(line)
    dirs = [
        cargo_directive("rustc-link-search", f"native={d}", "the library folder")
        for d in dict.fromkeys(search)
    ]
    return dirs + libs


def format_flags(flags: Sequence[str], fmt: str) -> str:
    """``flags`` (already substituted) in one of FORMATS."""
    if fmt == "cc":
        return shell_join(flags, _FLAG)
    if fmt == "json":
        return json.dumps(list(flags))
    if fmt == "cmake":
        return ";".join(cmake_list_item(f, _FLAG) for f in _joined_frameworks(flags))
    if fmt == "cargo":
        return "\n".join(_cargo(flags))
    raise BuildError(f"unknown link-flags format {fmt!r} (expected one of {', '.join(FORMATS)})")

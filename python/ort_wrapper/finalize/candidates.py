"""Candidate libraries for a static link: the dependency archives built in the tree, those
installed in the prefix, and the system libraries the build itself found (read from its
``CMakeCache.txt``), each with its symbols."""

from __future__ import annotations

import fnmatch
import json
import logging
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..elf.archive import archive_symbols, shared_library_symbols
from ..elf.reader import read_elf
from ..errors import BuildError
from .resolve import Library, Origin, library_name

__all__ = [
    "COMPONENT_GLOB",
    "as_built",
    "dependency_policy",
    "find_candidates",
    "in_sysroot",
    "library_dirs",
    "read_cmake_cache",
]

log = logging.getLogger(__name__)

COMPONENT_GLOB = "libonnxruntime_*.a"  # ORT's own component archives, never a dependency
_POLICY = Path(__file__).with_name("dependencies.json")


@lru_cache(maxsize=1)
def dependency_policy() -> dict[str, Any]:
    """``dependencies.json``: the link names ORT may depend on and the system flags."""
    return json.loads(_POLICY.read_text())


def _wanted(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in dependency_policy()["libraries"])


def read_cmake_cache(build_dir: Path) -> dict[str, str]:
    """``KEY -> VALUE`` of ``build_dir/CMakeCache.txt``; BuildError when there is none."""
    path = build_dir / "CMakeCache.txt"
    try:
        text = path.read_text(errors="replace")
    except OSError:
        raise BuildError(f"{build_dir} is not a CMake build tree: no CMakeCache.txt") from None
    entries = {}
    for line in text.splitlines():
        if line and line[0] not in "#/" and "=" in line and ":" in line.split("=", 1)[0]:
            key_type, value = line.split("=", 1)
            entries[key_type.rsplit(":", 1)[0]] = value
    return entries


def in_sysroot(path: str, sysroot: Path | None) -> Path:
    """Where a path the build saw lies on this machine."""
    return sysroot / path.lstrip("/") if sysroot else Path(path)


def as_built(path: str | Path, sysroot: Path | None) -> str:
    """The path the build saw for ``path`` on this machine (the inverse of ``in_sysroot``)."""
    return "/" + str(Path(path).relative_to(sysroot)) if sysroot else str(path)


def _lib_dir_of(value: str) -> str | None:
    parts = value.split("/")
    for i in range(len(parts) - 1, 0, -1):
        if parts[i] in ("lib", "lib64"):
            # /usr/lib/x86_64-linux-gnu/cmake/absl -> /usr/lib/x86_64-linux-gnu
            multiarch = i + 1 < len(parts) and parts[i + 1].endswith("-linux-gnu")
            return "/".join(parts[: i + 2 if multiarch else i + 1])
    return None


def library_dirs(cache: dict[str, str], build_dir: Path) -> list[str]:
    """The library folders of the packages the build found, as the build saw them.

    From ``*_DIR`` entries (CMake package configs) and library file paths, leaving out the
    build and source trees themselves.
    """
    skip = tuple(
        v for k, v in cache.items() if k in ("CMAKE_HOME_DIRECTORY", "CMAKE_CACHEFILE_DIR")
    )
    skip = (*skip, str(build_dir))
    dirs: list[str] = []
    for key, raw in cache.items():
        for value in raw.split(";"):
            if not value.startswith("/") or value.startswith(skip):
                continue
            is_lib = value.endswith((".a", ".so", ".dylib")) or ".so." in value.rsplit("/", 1)[-1]
            if key.endswith("_DIR") or is_lib:
                found = _lib_dir_of(value)
                if found and found not in dirs:
                    dirs.append(found)
    return dirs


def _static(path: Path, origin: Origin) -> Library:
    name = library_name(path.name)
    assert name is not None
    return Library(name, str(path), True, origin, archive_symbols(path))


def _shared(path: Path) -> Library:
    name = library_name(path.name)
    assert name is not None
    # A dylib's load commands are not read: the one-copy rule (resolve) sees no needs of it.
    needed = () if path.suffix == ".dylib" else read_elf(path.resolve()).needed
    return Library(name, str(path), False, Origin.SYSTEM, (shared_library_symbols(path),), needed)


def find_candidates(prefix: Path, build_dir: Path, system_dirs: Sequence[Path]) -> list[Library]:
    """Every library ``dependencies.json`` names, from the prefix, the build tree and the
    system folders (host paths), with its symbols. A library found in an earlier place hides
    the same name later; a system library is offered static and shared where both exist."""
    seen: set[str] = set()
    found: list[Library] = []
    local = [
        *sorted((prefix / "lib").glob("lib*.a")),
        *sorted(p for p in build_dir.rglob("lib*.a") if p.parent != build_dir),
    ]
    for path in local:
        name = library_name(path.name)
        if name and _wanted(name) and name not in seen and not path.match(COMPONENT_GLOB):
            seen.add(name)
            origin = Origin.DIST if path.is_relative_to(prefix) else Origin.BUILD
            found.append(_static(path, origin))
    system: list[Library] = []
    for folder in system_dirs:
        shared = sorted(folder.glob("lib*.so")) + sorted(folder.glob("lib*.dylib"))
        for path in sorted(folder.glob("lib*.a")) + shared:
            name = library_name(path.name)
            if name and _wanted(name) and name not in seen and path.exists():
                system.append(
                    _static(path, Origin.SYSTEM) if path.suffix == ".a" else _shared(path)
                )
        seen |= {lib.name for lib in system}
    log.info("%d candidate libraries (%d system)", len(found) + len(system), len(system))
    return found + system

"""``lib/cmake/onnxruntime/``: a CMake package for a distribution, written from its manifest.

A consumer writes ``find_package(onnxruntime)`` and links ``onnxruntime::onnxruntime``, as
with Debian's ``libonnxruntime-dev`` and the package ORT's own install writes (the same target,
the same ``SameMajorVersion`` version rule; docs/build-reference.md compares them). The target
carries the include folders (``finalize.headers.include_dirs``: both ``<onnxruntime_cxx_api.h>``
and ``<onnxruntime/onnxruntime_cxx_api.h>`` resolve) and, for a static distribution, the
manifest's ordered link flags (the same ones ``link-flags`` prints); for a shared one it points
at the core library. Paths are computed from the config file's own location, so the
distribution can be moved or copied; no path of the build is written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path, PurePosixPath

from ..errors import EscapeError, InitError
from ..escape import cmake_comment, cmake_list_item, cmake_quoted
from ..files import relpath_problem, sha256_file, write_file
from ..manifest import FileEntry, FileKind, Manifest
from .headers import include_dirs
from .linkflags import END_GROUP, PREFIX_VAR, START_GROUP

__all__ = [
    "CMAKE_DIR",
    "CMAKE_FILES",
    "TARGET",
    "cmake_package",
    "core_library",
    "with_cmake_package",
]

CMAKE_DIR = "lib/cmake/onnxruntime"
CONFIG_RELPATH = f"{CMAKE_DIR}/onnxruntimeConfig.cmake"
VERSION_RELPATH = f"{CMAKE_DIR}/onnxruntimeConfigVersion.cmake"
CMAKE_FILES = (CONFIG_RELPATH, VERSION_RELPATH)
TARGET = "onnxruntime::onnxruntime"
_LIBRARIES = (FileKind.SHARED, FileKind.ARCHIVE)
_PREFIX = "_onnxruntime_prefix"  # the CMake variable holding the distribution's root
_HEADER = "# Written by ort-wrapper from share/ort-wrapper/manifest.json; do not edit.\n"


def core_library(files: Iterable[FileEntry]) -> str | None:
    """The relative path of the distribution's core library: the entry whose role is
    ``core`` (a shared library or the merged archive), else the shortest
    ``libonnxruntime.so*`` or ``libonnxruntime.a`` name; None when there is none. InitError
    when that path leaves the distribution (a manifest may come from anyone)."""
    files = tuple(files)
    cores = [f.path for f in files if f.role == "core" and f.kind in _LIBRARIES]
    if not cores:
        cores = [
            f.path
            for f in files
            if f.kind in _LIBRARIES
            and PurePosixPath(f.path).name.startswith(("libonnxruntime.so", "libonnxruntime.a"))
        ]
    if not cores:
        return None
    return _confined("core library", min(cores, key=lambda p: (len(PurePosixPath(p).name), p)))


def _quoted(flag: str) -> str:
    """``flag`` as the text of a CMake quoted argument; ``${prefix}`` becomes the root."""
    text = cmake_quoted(cmake_list_item(flag, "the manifest's value"), "the manifest's value")
    return text.replace("\\" + PREFIX_VAR, f"${{{_PREFIX}}}")


def _comment(text: str) -> str:
    """``text`` safe in a ``#`` comment line (a manifest may come from anyone)."""
    return cmake_comment(text)


def _confined(where: str, relpath: str) -> str:
    """``relpath`` when it stays inside the distribution, else InitError naming it."""
    problem = relpath_problem(relpath)
    if problem is not None:
        raise InitError(f"the manifest's {where} {relpath!r} {problem}")
    return relpath


def _cmake_items(flags: Sequence[str]) -> list[str]:
    """``flags`` as CMake link items: each group becomes one ``-Wl,--start-group,…,--end-group``
    item, since CMake drops a repeated ``-Wl,--start-group`` item (a second cycle would lose
    its group)."""
    items: list[str] = []
    group: list[str] | None = None
    for flag in flags:
        if flag == START_GROUP:
            group = []
        elif flag == END_GROUP and group is not None:
            items.append(",".join([START_GROUP, *group, END_GROUP.removeprefix("-Wl,")]))
            group = None
        elif group is not None:
            if "," in flag:  # -Wl,… splits at commas: one would add a linker option
                raise EscapeError(f"the link flag {flag!r} holds ',': refused in a link group")
            group.append(flag)
        else:
            items.append(flag)
    return items


def _config(manifest: Manifest, library: str) -> str:
    # the library's own kind decides (a bundle of a static prefix says linkMode "shared")
    static = any(f.path == library and f.kind == FileKind.ARCHIVE for f in manifest.files)
    location = f"{PREFIX_VAR}/{library}"
    includes = []
    if manifest.include_dir:
        own = _confined("includeDir", manifest.include_dir)
        includes = [f"{PREFIX_VAR}/{d}" for d in include_dirs(own)]
    props = [f'IMPORTED_LOCATION "{_quoted(location)}"']
    if includes:
        props.append(f'INTERFACE_INCLUDE_DIRECTORIES "{";".join(map(_quoted, includes))}"')
    if static:
        # ORT is C++: a C program linking it needs the C++ linker (and its runtime)
        props.append('IMPORTED_LINK_INTERFACE_LANGUAGES "CXX"')
        deps = _cmake_items([f for f in manifest.link_flags if f != location])
        if deps:
            props.append(f'INTERFACE_LINK_LIBRARIES "{";".join(_quoted(f) for f in deps)}"')
    checked = [location, *includes]
    checks = "".join(
        f'if(NOT EXISTS "{_quoted(path)}")\n'
        "  set(onnxruntime_FOUND FALSE)\n"
        f'  set(onnxruntime_NOT_FOUND_MESSAGE "{_quoted(path)} is missing: '
        'this distribution is incomplete")\n'
        "  return()\n"
        "endif()\n"
        for path in checked
    )
    kind = "STATIC" if static else "SHARED"
    return (
        _HEADER
        + _comment(f"# ONNX Runtime {manifest.version}, variant {manifest.variant}")
        + f" ({manifest.link_mode}).\n"
        + f"# Use: find_package(onnxruntime CONFIG REQUIRED), then link {TARGET}.\n"
        + f"if(TARGET {TARGET})\n  return()\nendif()\n"
        + f'get_filename_component({_PREFIX} "${{CMAKE_CURRENT_LIST_DIR}}/../../.." ABSOLUTE)\n'
        + checks
        + f"add_library({TARGET} {kind} IMPORTED)\n"
        + f"set_target_properties({TARGET} PROPERTIES\n"
        + "".join(f"  {p}\n" for p in props)
        + ")\n"
        + f"unset({_PREFIX})\n"
    )


def _version(version: str) -> str:
    """The version file: CMake's ``SameMajorVersion`` rule, as Debian's and ORT's own files
    (``write_basic_package_version_file``) apply it. A requested version, or both ends of a
    requested range, must be in this major version (an excluded upper end may be the next
    major version itself); EXACT is an equal string."""
    found = re.match(r"[0-9]+", version)
    major = found.group() if found else ""  # none: no request is compatible
    next_major = str(int(major) + 1) if major else ""
    lines = [
        f'set(PACKAGE_VERSION "{_quoted(version)}")',
        "set(PACKAGE_VERSION_COMPATIBLE FALSE)",
        "if(PACKAGE_FIND_VERSION_RANGE)",
        f'  if(PACKAGE_FIND_VERSION_MIN_MAJOR STREQUAL "{major}"',
        "     AND PACKAGE_VERSION VERSION_GREATER_EQUAL PACKAGE_FIND_VERSION_MIN",
        '     AND ((PACKAGE_FIND_VERSION_RANGE_MAX STREQUAL "INCLUDE"',
        f'           AND PACKAGE_FIND_VERSION_MAX_MAJOR STREQUAL "{major}"',
        "           AND PACKAGE_VERSION VERSION_LESS_EQUAL PACKAGE_FIND_VERSION_MAX)",
        '       OR (PACKAGE_FIND_VERSION_RANGE_MAX STREQUAL "EXCLUDE"',
        f'           AND PACKAGE_FIND_VERSION_MAX VERSION_LESS_EQUAL "{next_major}"',
        "           AND PACKAGE_VERSION VERSION_LESS PACKAGE_FIND_VERSION_MAX)))",
        "    set(PACKAGE_VERSION_COMPATIBLE TRUE)",
        "  endif()",
        f'elseif(PACKAGE_FIND_VERSION_MAJOR STREQUAL "{major}"',
        "       AND PACKAGE_VERSION VERSION_GREATER_EQUAL PACKAGE_FIND_VERSION)",
        "  set(PACKAGE_VERSION_COMPATIBLE TRUE)",
        "  if(PACKAGE_FIND_VERSION STREQUAL PACKAGE_VERSION)",
        "    set(PACKAGE_VERSION_EXACT TRUE)",
        "  endif()",
        "endif()",
    ]
    return _HEADER + "\n".join(lines) + "\n"


def cmake_package(manifest: Manifest) -> dict[str, str]:
    """The package's files (relative path -> text) for ``manifest``; {} when the manifest
    lists no core library to point at (its own entries, if listed, are ignored)."""
    library = core_library(f for f in manifest.files if f.path not in CMAKE_FILES)
    if library is None:
        return {}
    return {CONFIG_RELPATH: _config(manifest, library), VERSION_RELPATH: _version(manifest.version)}


def with_cmake_package(manifest: Manifest, path_for: Callable[[str], Path]) -> Manifest:
    """Write ``manifest``'s CMake package (each file to ``path_for(relpath)``) and return the
    manifest with the package's files listed (kind ``data``, role ``cmake``)."""
    entries = []
    for rel, text in cmake_package(manifest).items():
        path = path_for(rel)
        write_file(path, text)
        entries.append(FileEntry(rel, FileKind.DATA, sha256_file(path), "cmake"))
    kept = [f for f in manifest.files if f.path not in CMAKE_FILES]
    return replace(manifest, files=tuple(sorted([*kept, *entries], key=lambda f: f.path)))

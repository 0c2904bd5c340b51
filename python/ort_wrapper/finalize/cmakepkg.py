"""``lib/cmake/onnxruntime/``: a CMake package for a distribution, written from its manifest.

A consumer writes ``find_package(onnxruntime CONFIG REQUIRED)`` and links
``onnxruntime::onnxruntime``. The target carries the include directory and, for a static
distribution, the manifest's ordered link flags (the same ones ``link-flags`` prints); for a
shared one it points at the core library. Paths are computed from the config file's own
location, so the distribution can be moved or copied; no path of the build is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path, PurePosixPath

from ..errors import InitError, UnsafeTextError
from ..escape import cmake_comment, cmake_list_item, cmake_quoted
from ..files import relpath_problem, sha256_file, write_file
from ..manifest import FileEntry, FileKind, Manifest
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
                raise UnsafeTextError(f"the link flag {flag!r} holds ',': refused in a link group")
            group.append(flag)
        else:
            items.append(flag)
    return items


def _config(manifest: Manifest, library: str) -> str:
    # the library's own kind decides (a bundle of a static prefix says linkMode "shared")
    static = any(f.path == library and f.kind == FileKind.ARCHIVE for f in manifest.files)
    location = f"{PREFIX_VAR}/{library}"
    include = None
    if manifest.include_dir:
        include = f"{PREFIX_VAR}/{_confined('includeDir', manifest.include_dir)}"
    props = [f'IMPORTED_LOCATION "{_quoted(location)}"']
    if include:
        props.append(f'INTERFACE_INCLUDE_DIRECTORIES "{_quoted(include)}"')
    if static:
        # ORT is C++: a C program linking it needs the C++ linker (and its runtime)
        props.append('IMPORTED_LINK_INTERFACE_LANGUAGES "CXX"')
        deps = _cmake_items([f for f in manifest.link_flags if f != location])
        if deps:
            props.append(f'INTERFACE_LINK_LIBRARIES "{";".join(_quoted(f) for f in deps)}"')
    checked = [location, *([include] if include else [])]
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
    lines = [
        f'set(PACKAGE_VERSION "{_quoted(version)}")',
        'string(REGEX MATCH "^[0-9]+" _onnxruntime_major "${PACKAGE_VERSION}")',
        "if(PACKAGE_FIND_VERSION_RANGE)",
        "  if(PACKAGE_VERSION VERSION_LESS PACKAGE_FIND_VERSION_MIN",
        '     OR (PACKAGE_FIND_VERSION_RANGE_MAX STREQUAL "INCLUDE"',
        "         AND PACKAGE_VERSION VERSION_GREATER PACKAGE_FIND_VERSION_MAX)",
        '     OR (PACKAGE_FIND_VERSION_RANGE_MAX STREQUAL "EXCLUDE"',
        "         AND PACKAGE_VERSION VERSION_GREATER_EQUAL PACKAGE_FIND_VERSION_MAX))",
        "    set(PACKAGE_VERSION_COMPATIBLE FALSE)",
        "  else()",
        "    set(PACKAGE_VERSION_COMPATIBLE TRUE)",
        "  endif()",
        "elseif(PACKAGE_VERSION VERSION_LESS PACKAGE_FIND_VERSION",
        '       OR NOT PACKAGE_FIND_VERSION_MAJOR STREQUAL "${_onnxruntime_major}")',
        "  set(PACKAGE_VERSION_COMPATIBLE FALSE)",
        "else()",
        "  set(PACKAGE_VERSION_COMPATIBLE TRUE)",
        "  if(PACKAGE_VERSION VERSION_EQUAL PACKAGE_FIND_VERSION)",
        "    set(PACKAGE_VERSION_EXACT TRUE)",
        "  endif()",
        "endif()",
        "unset(_onnxruntime_major)",
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

"""``finalize``: turn what CMake built and installed into a distribution.

For a static variant: merge ORT's component archives into ``lib/libonnxruntime.a``, resolve
its dependencies (in-tree archives copied in, system libraries recorded), order them for a
single-pass linker; for every variant: write ``lib/pkgconfig/libonnxruntime.pc`` and
``share/ort-wrapper/manifest.json``. All of it happens in a Transaction: idempotent, and a
failure leaves the prefix as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..elf.archive import archive_symbols
from ..errors import BuildError
from ..manifest import MANIFEST_RELPATH, FileEntry, Manifest, RuntimeLoadedEntry, sha256_file
from ..matrix import Variant
from .abseil import ABSEIL_GLOB, abseil_report, archive_graph
from .archives import MERGED_NAME, component_archives, merge_archives
from .candidates import (
    dependency_policy,
    find_candidates,
    in_sysroot,
    library_dirs,
    read_cmake_cache,
)
from .linkflags import PREFIX_VAR, order_flags
from .pkgconfig import PC_RELPATH, pkgconfig_text
from .python_package import PYTHON_DIR, PYTHON_FLAG, stage_python_package
from .resolve import Library, public_api_symbols, resolve
from .transaction import Transaction

__all__ = ["StaticLink", "finalize", "ort_version_of"]

log = logging.getLogger(__name__)

C_API_HEADER = "onnxruntime_c_api.h"


@dataclass(frozen=True)
class StaticLink:
    """The outcome of resolving a static distribution's link."""

    flags: tuple[str, ...]
    roles: Mapping[str, str]  # relpath in the distribution -> role
    extra: Mapping[str, Any]


def ort_version_of(cache: Mapping[str, str], sysroot: Path | None) -> str:
    """ORT's version from the source tree the build used (``VERSION_NUMBER``)."""
    home = cache.get("CMAKE_HOME_DIRECTORY")
    if not home:
        raise BuildError("CMakeCache.txt names no source directory; pass --ort-version")
    path = in_sysroot(home, sysroot).parent / "VERSION_NUMBER"
    try:
        return path.read_text().strip()
    except OSError:
        raise BuildError(f"cannot read {path}; pass --ort-version") from None


def _chosen(candidates: Sequence[Library], forced_shared: frozenset[str]) -> list[Library]:
    """Without pruning: one form of every candidate name, static unless it must be shared."""
    static = {c.name for c in candidates if c.static and c.name not in forced_shared}
    return [c for c in candidates if c.static == (c.name in static)]


def _static_link(
    tx: Transaction,
    build_dir: Path,
    cache: Mapping[str, str],
    sysroot: Path | None,
    lib_dirs: Sequence[str],
    prune: bool,
) -> StaticLink:
    prefix = tx.root
    components = component_archives(prefix, build_dir)
    merged_rel = f"lib/{MERGED_NAME}"
    merged = tx.path_for(merged_rel)
    merge_archives(components, merged)
    for path in components:
        if path.parent == prefix / "lib":
            tx.remove(f"lib/{path.name}")
    root = Library("onnxruntime", str(merged), True, "dist", archive_symbols(merged))
    dirs = [*library_dirs(dict(cache), build_dir), *lib_dirs]
    candidates = find_candidates(prefix, build_dir, [in_sysroot(d, sysroot) for d in dirs])
    resolution = resolve(public_api_symbols(root), [root, *candidates])
    if prune:
        linked = [lib for lib in resolution.used if lib is not root]
        graph = dict(resolution.graph)
    else:
        linked = _chosen(candidates, resolution.forced_shared)
        graph = archive_graph([root, *linked])
    in_dist = {root.key: merged_rel}
    roles = {merged_rel: "core"}
    for lib in linked:
        if lib.origin == "system":
            continue
        rel = f"lib/{Path(lib.path).name}"
        if lib.origin == "build":
            tx.path_for(rel).write_bytes(Path(lib.path).read_bytes())
        in_dist[lib.key] = rel
        roles[rel] = "abseil" if lib.name.startswith(ABSEIL_GLOB[:-1]) else "dependency"
    libraries = {lib.key: lib for lib in (root, *linked)}
    flags = order_flags(graph, libraries, in_dist, sysroot, dependency_policy()["system"])
    system = [
        {
            "name": lib.name,
            "path": "/" + str(Path(lib.path).relative_to(sysroot)) if sysroot else lib.path,
            "static": lib.static,
            "sha256": sha256_file(Path(lib.path)),
        }
        for lib in linked
        if lib.origin == "system"
    ]
    extra = {
        "mergedFrom": [p.name for p in components],
        "abseil": abseil_report(candidates, resolution).to_json(),
        "systemLibraries": system,
        "resolution": {
            "pruned": prune,
            "pulledMembers": sum(len(v) for v in resolution.pulled.values()),
            "unresolvedSymbols": len(resolution.unresolved),
            "linkedShared": sorted(resolution.forced_shared),
        },
    }
    return StaticLink(tuple(flags), roles, extra)


def _kind(rel: str) -> str:
    name = rel.rsplit("/", 1)[-1]
    if rel.startswith("include/"):
        return "header"
    if rel.startswith(f"{PYTHON_DIR}/") and name.endswith(".py"):
        return "python"
    if name.endswith(".pc"):
        return "pkgconfig"
    if name.endswith(".a"):
        return "archive"
    if name.endswith(".so") or ".so." in name:
        return "shared"
    return "data"


def _role(rel: str, roles: Mapping[str, str]) -> str:
    name = rel.rsplit("/", 1)[-1]
    if rel in roles:
        return roles[rel]
    if name.startswith("libonnxruntime_providers"):
        return "provider"
    if name.startswith("libonnxruntime."):
        return "core"
    return ""


def _include_dir(prefix: Path) -> str | None:
    headers = sorted((prefix / "include").rglob(C_API_HEADER))
    return str(headers[0].parent.relative_to(prefix)) if headers else None


def _runtime_loaded(prefix: Path, variant: Variant) -> tuple[RuntimeLoadedEntry, ...]:
    entries = []
    for item in variant.runtime_loaded:
        for name in (item.library, item.loaded_by):
            if not (prefix / "lib" / name).exists():
                raise BuildError(
                    f"variant {variant.name!r} declares {name} (runtimeLoaded) "
                    f"but {prefix / 'lib'} has no such file"
                )
        entries.append(
            RuntimeLoadedEntry(f"lib/{item.library}", item.provider, f"lib/{item.loaded_by}")
        )
    return tuple(entries)


def finalize(
    prefix: Path,
    build_dir: Path,
    variant: Variant,
    *,
    version: str | None = None,
    sysroot: Path | None = None,
    lib_dirs: Sequence[str] = (),
    source: Mapping[str, Any] | None = None,
    patches: Sequence[Mapping[str, Any]] = (),
    prune: bool = False,
) -> Manifest:
    """Make ``prefix`` (a CMake install) a distribution of ``variant``; return its manifest.

    ``build_dir`` is the CMake build tree; ``sysroot`` is where the build's absolute paths
    lie on this machine when it ran in a chroot; ``lib_dirs`` are more library folders (as
    the build saw them) to take dependencies from; ``source`` and ``patches`` are recorded;
    ``prune`` leaves out dependency archives nothing references.
    """
    for what, path in (("prefix", prefix), ("build directory", build_dir)):
        if not path.is_dir():
            raise BuildError(f"the {what} {path} is not a directory")
    cache = read_cmake_cache(build_dir)
    version = version or ort_version_of(cache, sysroot)
    with Transaction(prefix) as tx:
        if variant.link_mode == "static":
            link = _static_link(tx, build_dir, cache, sysroot, lib_dirs, prune)
            flags, roles, extra = link.flags, link.roles, dict(link.extra)
            private = tuple(f for f in flags if f != f"{PREFIX_VAR}/lib/{MERGED_NAME}")
        else:
            flags, roles, extra = (f"-L{PREFIX_VAR}/lib", "-lonnxruntime"), {}, {}
            private = ()
        runtime_loaded = _runtime_loaded(prefix, variant)
        python_path = None
        if variant.cmake_flags.get(PYTHON_FLAG) is True:
            stage_python_package(tx, build_dir)
            python_path = PYTHON_DIR
        include_dir = _include_dir(prefix)
        if include_dir is None:
            raise BuildError(f"no {C_API_HEADER} under {prefix / 'include'}")
        tx.path_for(PC_RELPATH).write_text(
            pkgconfig_text(
                version=version,
                variant=variant.name,
                link_mode=variant.link_mode,
                include_dir=include_dir,
                private=private,
            )
        )
        tx.path_for(str(MANIFEST_RELPATH))
        files = tuple(
            FileEntry(rel, _kind(rel), sha256_file(path), _role(rel, roles))
            for rel, path in sorted(tx.final_files().items())
            if rel != str(MANIFEST_RELPATH)
        )
        extra.update({"source": dict(source or {}), "patches": [dict(p) for p in patches]})
        manifest = Manifest(
            version=version,
            variant=variant.name,
            link_mode=variant.link_mode,
            providers=variant.providers,
            files=files,
            link_flags=tuple(flags),
            runtime_loaded=runtime_loaded,
            python_path=python_path,
            include_dir=include_dir,
            extra=extra,
        )
        manifest.write(tx.scratch / "new")
        changed = tx.commit()
    log.info("finalized %s: %d files changed", prefix, len(changed))
    return manifest

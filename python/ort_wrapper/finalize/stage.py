"""``finalize``: turn what CMake built and installed into a distribution.

For a static variant: merge ORT's component archives into ``lib/libonnxruntime.a``, resolve
its dependencies (in-tree archives copied in, system libraries recorded), order them for a
single-pass linker; for every variant: write ``lib/pkgconfig/libonnxruntime.pc``, the CMake
package (``lib/cmake/onnxruntime/``, from the manifest) and ``share/ort-wrapper/manifest.json``.
All of it happens in a Transaction: idempotent, and a failure leaves the prefix as it was.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..elf.archive import ObjectFormat, archive_format, archive_symbols, read_archive
from ..errors import BuildError
from ..files import read_json, sha256_file, write_json_atomic
from ..manifest import (
    MANIFEST_RELPATH,
    FileEntry,
    Manifest,
    RuntimeLoadedEntry,
)
from ..matrix import Variant
from .abseil import abseil_report, archive_graph, is_abseil
from .archives import MERGED_NAME, component_archives, find_components, merge_archives
from .candidates import (
    as_built,
    dependency_policy,
    find_candidates,
    in_sysroot,
    library_dirs,
    read_cmake_cache,
)
from .cmakepkg import CMAKE_FILES, core_library, with_cmake_package
from .darwin import system_flags
from .linkflags import PREFIX_VAR, order_flags
from .pkgconfig import PC_RELPATH, pkgconfig_text
from .python_package import PYTHON_FLAG, PYTHON_PACKAGE_DIR, stage_python_package
from .resolve import Library, linked_without_pruning, public_api_symbols, resolve
from .sharedflags import shared_link_flags
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


def _previous(prefix: Path) -> dict[str, Any]:
    """The manifest an earlier ``finalize`` left in ``prefix`` (raw JSON), or ``{}``."""
    try:
        data = read_json(prefix / MANIFEST_RELPATH, BuildError)
    except (OSError, BuildError):
        return {}
    return data if isinstance(data, dict) else {}


def _extra(previous: Mapping[str, Any]) -> Mapping[str, Any]:
    extra = previous.get("extra")
    return extra if isinstance(extra, dict) else {}


def _recorded_sha256(previous: Mapping[str, Any], rel: str) -> str | None:
    for entry in previous.get("files", ()):
        if isinstance(entry, dict) and entry.get("path") == rel:
            return entry.get("sha256")
    return None


def _recorded_components(previous: Mapping[str, Any]) -> dict[str, str]:
    """name -> sha256 of the component archives the previous merge took (older manifests
    recorded names only: their sha256 is empty)."""
    out = {}
    for item in _extra(previous).get("mergedFrom", ()):
        if isinstance(item, dict):
            out[str(item.get("name"))] = str(item.get("sha256", ""))
        else:
            out[str(item)] = ""
    return out


def _merge_components(
    tx: Transaction, build_dir: Path, previous: Mapping[str, Any]
) -> tuple[Path, list[dict[str, str]]]:
    """Merge the component archives into ``lib/libonnxruntime.a``; return where the merged
    archive is and what it was merged from (``name``, ``sha256``).

    The first run removes the components installed under ``lib/``, so a rerun may find fewer
    than were merged. Then the merged archive already there is kept when it is the one the
    manifest records and every component still found is unchanged; otherwise BuildError
    names what is missing (merging the rest would silently lose its members).
    """
    prefix = tx.root
    merged_rel = f"lib/{MERGED_NAME}"
    found = find_components(prefix, build_dir)
    digests = {name: tx.sha256(path) for name, path in found.items()}
    recorded = _recorded_components(previous)
    missing = sorted(set(recorded) - set(found))
    if missing:
        existing = prefix / merged_rel
        reusable = (
            existing.is_file()
            and _recorded_sha256(previous, merged_rel) == tx.sha256(existing)
            and all(recorded.get(name) == sha for name, sha in digests.items())
        )
        if not reusable:
            raise BuildError(
                f"{merged_rel} was merged from {', '.join(missing)}, which are no longer in "
                f"{prefix / 'lib'} or {build_dir} (an earlier finalize merged and removed "
                "them), and the archive there is not the one the manifest records or the "
                "build changed since: install the build again (cmake --install) and rerun"
            )
        log.info("keeping %s: merged from %s, as recorded", merged_rel, ", ".join(recorded))
        return existing, [{"name": n, "sha256": sha} for n, sha in recorded.items()]
    components = component_archives(prefix, build_dir)  # BuildError when there is none
    merged = tx.path_for(merged_rel)
    merge_archives(components, merged)
    for path in components:
        if path.parent == prefix / "lib":
            tx.remove(f"lib/{path.name}")
    return merged, [{"name": p.name, "sha256": digests[p.name]} for p in components]


def _static_link(
    tx: Transaction,
    build_dir: Path,
    cache: Mapping[str, str],
    sysroot: Path | None,
    lib_dirs: Sequence[str],
    prune: bool,
    previous: Mapping[str, Any],
    providers: Sequence[str],
) -> StaticLink:
    prefix = tx.root
    merged_rel = f"lib/{MERGED_NAME}"
    merged, merged_from = _merge_components(tx, build_dir, previous)
    root = Library("onnxruntime", str(merged), True, "dist", archive_symbols(merged))
    dirs = [*library_dirs(dict(cache), build_dir), *lib_dirs]
    copied_before = {str(rel) for rel in _extra(previous).get("copiedArchives", ())}
    candidates = find_candidates(
        prefix,
        build_dir,
        [in_sysroot(d, sysroot) for d in dirs],
        copied={rel.rsplit("/", 1)[-1] for rel in copied_before},
    )
    resolution = resolve(public_api_symbols(root), [root, *candidates])
    if prune:
        linked = [lib for lib in resolution.used if lib is not root]
        graph = dict(resolution.graph)
    else:
        linked = [lib for lib in linked_without_pruning(resolution) if lib is not root]
        graph = archive_graph([root, *linked])
    in_dist = {root.key: merged_rel}
    roles = {merged_rel: "core"}
    copied = []
    for lib in linked:
        if lib.origin == "system":
            continue
        rel = f"lib/{Path(lib.path).name}"
        if lib.origin == "build":
            shutil.copyfile(lib.path, tx.path_for(rel))
        if lib.origin == "build" or rel in copied_before:
            copied.append(rel)
        in_dist[lib.key] = rel
        roles[rel] = "abseil" if is_abseil(lib.name) else "dependency"
    for rel in sorted(copied_before - set(copied)):
        log.info("removing %s: an earlier finalize copied it, this link does not use it", rel)
        tx.remove(rel)
    libraries = {lib.key: lib for lib in (root, *linked)}
    fmt = archive_format(read_archive(merged))
    system_libs = (
        system_flags(providers) if fmt is ObjectFormat.MACHO else dependency_policy()["system"]
    )
    flags = order_flags(graph, libraries, in_dist, sysroot, system_libs, fmt)
    system = [
        {
            "name": lib.name,
            "path": as_built(lib.path, sysroot),
            "static": lib.static,
            "sha256": sha256_file(Path(lib.path)),
        }
        for lib in linked
        if lib.origin == "system"
    ]
    extra = {
        "mergedFrom": merged_from,
        "copiedArchives": copied,
        "abseil": abseil_report(candidates, resolution).to_json(),
        "systemLibraries": system,
        "resolution": {
            "pruned": prune,
            "pulledMembers": sum(len(v) for v in resolution.pulled.values()),
            "unresolvedSymbols": len(resolution.unresolved),
            "linkedShared": sorted(resolution.forced_shared),
            "leftOut": sorted(resolution.excluded),
        },
    }
    return StaticLink(tuple(flags), roles, extra)


def _kind(rel: str) -> str:
    name = rel.rsplit("/", 1)[-1]
    if rel.startswith("include/"):
        return "header"
    if rel.startswith(f"{PYTHON_PACKAGE_DIR}/") and name.endswith(".py"):
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


def _shared_flags(prefix: Path, files: Sequence[FileEntry]) -> tuple[str, ...]:
    library = core_library(files)
    if library is None:
        raise BuildError(f"a shared variant, but {prefix} holds no libonnxruntime.so*")
    return shared_link_flags(library)


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
    ``prune`` leaves out dependency archives nothing references (off by default here; the
    lab's ``build`` and the Nix derivation turn it on).
    """
    for what, path in (("prefix", prefix), ("build directory", build_dir)):
        if not path.is_dir():
            raise BuildError(f"the {what} {path} is not a directory")
    cache = read_cmake_cache(build_dir)
    version = version or ort_version_of(cache, sysroot)
    with Transaction(prefix) as tx:
        previous = _previous(prefix)  # read under the transaction's lock
        if variant.link_mode == "static":
            link = _static_link(
                tx, build_dir, cache, sysroot, lib_dirs, prune, previous, variant.providers
            )
            flags, roles, extra = link.flags, link.roles, dict(link.extra)
            private = tuple(f for f in flags if f != f"{PREFIX_VAR}/lib/{MERGED_NAME}")
        else:
            flags, roles, extra, private = (), {}, {}, ()
        runtime_loaded = _runtime_loaded(prefix, variant)
        python_path = None
        if variant.cmake_flags.get(PYTHON_FLAG) is True:
            stage_python_package(tx, build_dir)
            python_path = PYTHON_PACKAGE_DIR
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
        files = tuple(
            FileEntry(rel, _kind(rel), tx.sha256(path), _role(rel, roles))
            for rel, path in sorted(tx.final_files().items())
            if rel != str(MANIFEST_RELPATH) and rel not in CMAKE_FILES
        )
        if variant.link_mode != "static":
            flags = _shared_flags(prefix, files)
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
        manifest = with_cmake_package(manifest, tx.path_for)
        write_json_atomic(tx.path_for(str(MANIFEST_RELPATH)), manifest.to_json())
        changed = tx.commit()
    log.info("finalized %s: %d files changed", prefix, len(changed))
    return manifest

"""``finalize``: turn what CMake built and installed into a new distribution directory.

A plain function of its inputs: the install prefix and the build tree are only read. The
prefix is copied into a new directory beside the output (``files.new_directory``); for a
static variant ORT's component archives are merged there into ``lib/libonnxruntime.a``, its
dependencies resolved, every static one absorbed into that archive (so it links alone, as the
``ort`` crate and pkg-config consumers expect) and the shared ones that remain ordered for a
single-pass linker; for every variant the API headers are also reachable where ORT's shared
install puts them (``finalize.headers``), and ``lib/pkgconfig/libonnxruntime.pc`` and
the CMake package (``lib/cmake/onnxruntime/``, from the manifest) and
``share/ort-wrapper/manifest.json`` are written. Then the directory is renamed to the output,
replacing an earlier one, so a failure leaves the output as it was and a rerun replaces it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Collection, Mapping, Sequence, Set
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..elf.archive import ObjectFormat, archive_format, archive_symbols, read_archive
from ..errors import BuildError, InitError
from ..files import (
    check_apart,
    check_replaceable,
    confined,
    copy_file,
    new_directory,
    sha256_file,
    write_file,
)
from ..manifest import (
    C_API_HEADER,
    MANIFEST_RELPATH,
    FileEntry,
    FileKind,
    LinkMode,
    Manifest,
    find_c_api_header,
    load_manifest,
)
from ..matrix import RuntimeLoaded, Variant
from ..operators import OperatorConfig
from .abseil import abseil_report
from .archives import MERGED_NAME, component_archives, merge_archives, rebuild_archive
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
from .headers import forwarding_headers
from .linkflags import PREFIX_VAR, order_flags
from .pkgconfig import PC_RELPATH, pkgconfig_text
from .python_package import PYTHON_FLAG, PYTHON_PACKAGE_DIR, python_package_files
from .resolve import (
    Library,
    Origin,
    Resolution,
    linked_without_pruning,
    public_api_symbols,
    resolve,
)
from .sharedflags import shared_link_flags

__all__ = ["StaticLink", "finalize", "ort_version_of"]

log = logging.getLogger(__name__)


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


def _target(dist: Path, rel: str) -> Path:
    """Where ``rel`` is written in ``dist``: its folders made, and whatever the copy of the
    prefix put there removed (so a symlink is replaced, never written through)."""
    path = dist / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    return path


def _copy_prefix(prefix: Path, dist: Path, leave_out: Collection[str]) -> None:
    """Copy the install ``prefix`` into ``dist`` but the relpaths ``leave_out``: files with
    their modes, symlinks as symlinks (relative ones that stay inside the prefix only)."""
    for dirpath, dirnames, filenames in os.walk(prefix):
        here = Path(dirpath)
        (dist / here.relative_to(prefix)).mkdir(exist_ok=True)
        for name in sorted([*dirnames, *filenames]):
            path = here / name
            rel = path.relative_to(prefix)
            if path.is_symlink():
                link = os.readlink(path)
                confined(prefix, path, BuildError, "the symlink")
                if os.path.isabs(link):
                    raise BuildError(f"the symlink {path} is absolute ({link}): refused")
                (dist / rel).symlink_to(link)
            elif path.is_file() and str(rel) not in leave_out:
                copy_file(path, dist / rel)
            elif not path.is_dir() and not path.is_file():
                raise BuildError(f"{path} is not a file, a folder or a symlink")


def _absorbed_graph(
    graph: Mapping[str, set[str]], root: str, absorbed: Set[str]
) -> dict[str, set[str]]:
    """``graph`` with the ``absorbed`` libraries folded into ``root``: what they need, the
    merged archive needs."""
    folded: dict[str, set[str]] = {root: set()}
    for key, needs in graph.items():
        into = root if key in absorbed else key
        folded.setdefault(into, set()).update(needs - absorbed - {into})
    for needs in folded.values():
        needs.discard(root)
    return folded


def _library_record(
    lib: Library, sysroot: Path | None, members: int | None = None
) -> dict[str, Any]:
    record: dict[str, Any] = {"name": lib.name, "origin": lib.origin.value, "static": lib.static}
    if lib.origin == Origin.SYSTEM:
        record["path"] = as_built(lib.path, sysroot)
    if members is not None:
        record["members"] = members
    return {**record, "sha256": sha256_file(Path(lib.path))}


def _linked(root: Library, resolution: Resolution, prune: bool) -> list[Library]:
    """The libraries whose members go into the merged archive or beside it: those a link of
    ``root`` takes, or without ``prune`` every candidate the resolution does not leave out."""
    if prune:
        return [lib for lib in resolution.used if lib is not root]
    return [lib for lib in linked_without_pruning(resolution) if lib is not root]


def _count(members: Collection[int] | None, lib: Library) -> int:
    return len(lib.objects) if members is None else len(members)


def _static_link(
    prefix: Path,
    build_dir: Path,
    dist: Path,
    components: Sequence[Path],
    system_dirs: Sequence[Path],
    sysroot: Path | None,
    prune: bool,
    providers: Sequence[str],
    reduced: bool = False,
) -> StaticLink:
    """Merge ``components`` into ``dist``'s ``lib/libonnxruntime.a`` and absorb into it every
    static archive the link uses (the members a link from the C API pulls in; every member
    without ``prune``), so the archive is all a consumer links besides the C++ runtime and the
    shared libraries that remain (recorded, ordered). For a ``reduced`` build ORT's own members
    are those a link from the C API pulls in: the kernels the reduction unregistered are left
    out, as any consumer's linker would leave them."""
    merged_rel = f"lib/{MERGED_NAME}"
    merged = _target(dist, merged_rel)
    merge_archives(components, merged)
    root = Library("onnxruntime", str(merged), True, Origin.DIST, archive_symbols(merged))
    candidates = find_candidates(prefix, build_dir, system_dirs)
    resolution = resolve(public_api_symbols(root), [root, *candidates])
    absorbed = [lib for lib in _linked(root, resolution, prune) if lib.static]
    # The flags name what a link from the C API needs, on every platform and pruned or not: the
    # symbol graph decides. An absorbed member no such link pulls in is never loaded from the
    # archive, so a shared library only it would need is not listed.
    shared = [lib for lib in resolution.used if not lib.static]
    taken = {
        lib.key: resolution.pulled.get(lib.key, frozenset()) if prune else None for lib in absorbed
    }
    own = resolution.pulled[root.key] if reduced else None
    rebuild_archive(
        merged, [(merged, own), *((Path(lib.path), taken[lib.key]) for lib in absorbed)]
    )
    fmt = archive_format(read_archive(merged))
    system_libs = (
        system_flags(providers) if fmt is ObjectFormat.MACHO else dependency_policy()["system"]
    )
    flags = order_flags(
        _absorbed_graph(resolution.graph, root.key, {lib.key for lib in absorbed}),
        {lib.key: lib for lib in (root, *shared)},
        {root.key: merged_rel},
        sysroot,
        system_libs,
        fmt,
    )
    extra = {
        "mergedFrom": [{"name": p.name, "sha256": sha256_file(p)} for p in components],
        "absorbed": [
            _library_record(lib, sysroot, _count(taken[lib.key], lib)) for lib in absorbed
        ],
        "sharedLibraries": [_library_record(lib, sysroot) for lib in shared],
        "selfContained": not shared,
        "abseil": abseil_report(candidates, resolution).to_json(),
        "resolution": {
            "pruned": prune,
            "pulledMembers": sum(len(v) for v in resolution.pulled.values()),
            "membersLeftOut": len(root.objects) - len(own) if own is not None else 0,
            "unresolvedSymbols": len(resolution.unresolved),
            "linkedShared": sorted(resolution.forced_shared),
            "leftOut": sorted(resolution.excluded),
        },
    }
    return StaticLink(tuple(flags), {merged_rel: "core"}, extra)


def _kind(rel: str) -> FileKind:
    name = rel.rsplit("/", 1)[-1]
    if rel.startswith("include/"):
        return FileKind.HEADER
    if rel.startswith(f"{PYTHON_PACKAGE_DIR}/") and name.endswith(".py"):
        return FileKind.PYTHON
    if name.endswith(".pc"):
        return FileKind.PKGCONFIG
    if name.endswith(".a"):
        return FileKind.ARCHIVE
    if name.endswith(".so") or ".so." in name:
        return FileKind.SHARED
    return FileKind.DATA


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
    header = find_c_api_header(prefix, ["include"])
    return str(header.parent.relative_to(prefix)) if header else None


def _runtime_loaded(prefix: Path, variant: Variant) -> tuple[RuntimeLoaded, ...]:
    entries = []
    for item in variant.runtime_loaded:
        for name in (item.library, item.loaded_by):
            if not (prefix / "lib" / name).exists():
                raise BuildError(
                    f"variant {variant.name!r} declares {name} (runtimeLoaded) "
                    f"but {prefix / 'lib'} has no such file"
                )
        entries.append(RuntimeLoaded(f"lib/{item.library}", item.provider, f"lib/{item.loaded_by}"))
    return tuple(entries)


def _shared_flags(prefix: Path, files: Sequence[FileEntry]) -> tuple[str, ...]:
    library = core_library(files)
    if library is None:
        raise BuildError(f"a shared variant, but {prefix} holds no libonnxruntime.so*")
    return shared_link_flags(library)


def _regular_files(root: Path) -> dict[str, Path]:
    """relpath -> path of every file under ``root`` that is not a symlink, sorted."""
    found = {}
    for dirpath, _, filenames in os.walk(root):
        for path in (Path(dirpath, name) for name in filenames):
            if not path.is_symlink():
                found[path.relative_to(root).as_posix()] = path
    return dict(sorted(found.items()))


def _not_a_distribution(out: Path) -> str | None:
    """Why the directory ``out`` is not an earlier ``finalize`` output (None when it is): it
    must hold a manifest that lists every regular file in it (symlinks are not listed)."""
    try:
        listed = {f.path for f in load_manifest(out).files} | {MANIFEST_RELPATH.as_posix()}
    except InitError as exc:
        why = str(exc)
    else:
        unlisted = sorted(set(_regular_files(out)) - listed)
        if not unlisted:
            return None
        why = f"its manifest does not list {out / unlisted[0]}"
    return f"is not empty and not an earlier distribution ({why})"


def _listing(dist: Path, roles: Mapping[str, str]) -> tuple[FileEntry, ...]:
    """Every regular file in ``dist`` but the manifest and the CMake package (written from the
    manifest), sorted, with its hash."""
    return tuple(
        FileEntry(rel, _kind(rel), sha256_file(path), _role(rel, roles))
        for rel, path in _regular_files(dist).items()
        if rel != MANIFEST_RELPATH.as_posix() and rel not in CMAKE_FILES
    )


def finalize(
    prefix: Path,
    build_dir: Path,
    variant: Variant,
    out: Path,
    *,
    version: str | None = None,
    sysroot: Path | None = None,
    lib_dirs: Sequence[str] = (),
    source: Mapping[str, Any] | None = None,
    patches: Sequence[Mapping[str, Any]] = (),
    prune: bool = False,
    reduced_for: OperatorConfig | None = None,
) -> Manifest:
    """Write ``out``, a new distribution of ``variant`` made from ``prefix`` (a CMake install,
    only read), and return its manifest.

    ``build_dir`` is the CMake build tree; ``sysroot`` is where the build's absolute paths
    lie on this machine when it ran in a chroot; ``lib_dirs`` are more library folders (as
    the build saw them) to take dependencies from, before those the build found; ``source``
    and ``patches`` are recorded;
    ``prune`` leaves out dependency archives nothing references (off by default here; the
    lab's ``build`` and the Nix derivation turn it on); ``reduced_for`` is the operator config
    a reduced build was made with (recorded). ``out`` may be absent, empty or an
    earlier distribution; it is replaced only when everything succeeded.
    """
    out = Path(out).absolute()
    for what, path in (("prefix", prefix), ("build directory", build_dir)):
        if not path.is_dir():
            raise BuildError(f"the {what} {path} is not a directory")
    check_apart(out, (prefix, build_dir), BuildError)
    check_replaceable(out, BuildError, _not_a_distribution)
    cache = read_cmake_cache(build_dir)
    version = version or ort_version_of(cache, sysroot)
    static = variant.link_mode == LinkMode.STATIC
    components = component_archives(prefix, build_dir) if static else ()
    with new_directory(out, BuildError, _not_a_distribution) as dist:
        _copy_prefix(prefix, dist, {f"lib/{p.name}" for p in components})
        if static:
            dirs = [*lib_dirs, *library_dirs(dict(cache), build_dir)]
            link = _static_link(
                prefix,
                build_dir,
                dist,
                components,
                [in_sysroot(d, sysroot) for d in dirs],
                sysroot,
                prune,
                variant.providers,
                reduced=reduced_for is not None,
            )
            flags, roles, extra = link.flags, link.roles, dict(link.extra)
            after = tuple(f for f in flags if f != f"{PREFIX_VAR}/lib/{MERGED_NAME}")
        else:
            flags, roles, extra, after = (), {}, {}, ()
        runtime_loaded = _runtime_loaded(prefix, variant)
        python_path = None
        if variant.cmake_flags.get(PYTHON_FLAG) is True:
            for rel, path in python_package_files(build_dir).items():
                copy_file(path, _target(dist, f"{PYTHON_PACKAGE_DIR}/{rel}"))
            python_path = PYTHON_PACKAGE_DIR
        include_dir = _include_dir(prefix)
        if include_dir is None:
            raise BuildError(f"no {C_API_HEADER} under {prefix / 'include'}")
        for rel, text in forwarding_headers(dist, include_dir).items():
            write_file(_target(dist, rel), text)
        write_file(
            _target(dist, PC_RELPATH),
            pkgconfig_text(
                version=version,
                variant=variant.name,
                link_mode=variant.link_mode,
                include_dir=include_dir,
                libs=after,
            ),
        )
        files = _listing(dist, roles)
        if not static:
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
            reduced_for=reduced_for,
        )
        manifest = with_cmake_package(manifest, lambda rel: _target(dist, rel))
        _target(dist, str(MANIFEST_RELPATH))
        manifest.write(dist)
    log.info("finalized %s into %s: %d files", prefix, out, len(manifest.files))
    return manifest

"""Which files of a bundle's SRC go where in the bundle.

What SRC is, ``runtime.distribution.locate`` says (the one classifier; a BROKEN record too,
since bundle also takes a folder of libraries that is no distribution):

- with a manifest (``prefix``, ``static``; a Nix output or the native build): its files keep
  their relative paths; its runtime-loaded libraries come from the manifest's ``runtimeLoaded``.
- ``module``: an installed ``onnxruntime`` / ``onnxruntime-gpu`` package (the package directory
  itself, or a site-packages directory holding it). The package is copied to
  ``python/onnxruntime/``; the provider libraries found in ``capi/`` are the runtime-loaded ones
  (``runtime.catalog`` maps providers to libraries).
- any other directory (``directory``): its shared libraries (top level only) go to ``lib/``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from ..elf.reader import is_elf, read_elf
from ..errors import BundleError, ElfError, InitError
from ..files import confined
from ..manifest import MANIFEST_RELPATH, FileKind, Manifest
from ..matrix import RuntimeLoaded
from ..runtime.catalog import (
    CPU_PROVIDER,
    gpu_providers,
    provider_specs,
    resolve_provider_name,
    shared_bridge,
)
from ..runtime.distribution import (
    Distribution,
    DistributionKind,
    core_of,
    library_dir,
    library_version,
    manifest_kind,
)
from . import BUNDLE_JSON_RELPATH, LIB_DIR

__all__ = ["PlannedFile", "Source", "inspect_source"]

log = logging.getLogger(__name__)

PYTHON_DIR = "python"


@dataclass(frozen=True)
class PlannedFile:
    """A file to copy into the bundle: from where, to where, and why."""

    src: Path  # the file as found (may be a symlink; its target's bytes are copied)
    dest: str  # path relative to the bundle root
    kind: FileKind
    role: str  # core, provider, bridge, python-extension, dependency, ...
    elf: bool
    found_via: str = "distribution"  # or companion, runpath, search-dir, LD_LIBRARY_PATH, ...
    reasons: tuple[str, ...] = ("part of the distribution",)


@dataclass(frozen=True)
class Source:
    """A distribution to bundle."""

    path: Path
    kind: DistributionKind  # module, prefix, static, directory
    version: str
    variant: str
    providers: tuple[str, ...]
    files: tuple[PlannedFile, ...]
    runtime_loaded: tuple[RuntimeLoaded, ...]  # by bundle-relative paths
    python_path: str | None = None
    include_dir: str | None = None
    link_flags: tuple[str, ...] = ()
    preload: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()  # the Python requirements of the bundled onnxruntime package
    left_out: tuple[str, ...] = ()  # provider libraries not bundled (not selected), with why

    @property
    def elf_files(self) -> tuple[PlannedFile, ...]:
        """The distribution's ELF files: the roots of the closure."""
        return tuple(f for f in self.files if f.elf)

    @property
    def library_dirs(self) -> tuple[Path, ...]:
        """Directories of SRC holding its ELF files (searched for sonames they provide)."""
        return tuple(dict.fromkeys(f.src.parent for f in self.elf_files))


def _selected(providers: Iterable[str] | None) -> set[str] | None:
    if providers is None:
        return None
    chosen = set()
    for name in providers:
        resolved = resolve_provider_name(name)
        if resolved is None:
            known = ", ".join(sorted(provider_specs()))
            raise BundleError(f"unknown execution provider {name!r} (known: {known})")
        chosen.add(resolved)
    return chosen


def _provider_of_library() -> dict[str, str]:
    return {s.library: s.name for s in provider_specs().values() if s.library}


def _library_version(libs: Iterable[Path], root: Path) -> str:
    """The core library's release ("unknown" for a directory without one), read from its
    symbol versions, or asked in a confined child when they do not name it (Debian's
    VERS_1.23 is not a release); a library that is not plausibly ONNX Runtime is refused
    without being loaded."""
    core = core_of(libs)
    if core is None:
        return "unknown"
    try:
        return library_version(core, root)
    except InitError as exc:
        raise BundleError(f"cannot tell its ONNX Runtime version: {exc}") from None


def _dist_requires(package: Path) -> tuple[str, ...]:
    """Requirements of the onnxruntime distribution that installed ``package`` (if known)."""
    for dist in metadata.distributions(path=[str(package.parent)]):
        if dist.metadata["Name"] in ("onnxruntime", "onnxruntime-gpu"):
            return tuple(r for r in dist.requires or () if "extra ==" not in r)
    return ()


def _wheel_file(src: Path, dest: str, provider: str | None, bridge: str) -> PlannedFile:
    """One file of a wheel's package: its kind and role, from its name and whether it is ELF."""
    if not is_elf(src):
        kind = FileKind.PYTHON if src.suffix in (".py", ".pyi") else FileKind.DATA
        return PlannedFile(src, dest, kind, "", False)
    if src.name.startswith("onnxruntime_pybind11_state"):
        return PlannedFile(src, dest, FileKind.PYTHON, "python-extension", True)
    if provider is not None:
        return PlannedFile(src, dest, FileKind.SHARED, "provider", True)
    return PlannedFile(src, dest, FileKind.SHARED, "bridge" if src.name == bridge else "core", True)


def _wheel_source(package: Path, version: str | None, chosen: set[str] | None) -> Source:
    if version is None:
        raise BundleError(
            f"{package}/__init__.py declares no __version__: not an onnxruntime package"
        )
    by_library = _provider_of_library()
    bridge = shared_bridge()
    files: list[PlannedFile] = []
    provider_libs: list[tuple[str, str]] = []  # (dest, provider)
    left_out: list[str] = []
    extension: str | None = None
    candidates = sorted(
        p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    )
    for src in candidates:
        confined(package, src, BundleError, "file")
        dest = f"{PYTHON_DIR}/onnxruntime/{src.relative_to(package).as_posix()}"
        provider = by_library.get(src.name)
        if provider is not None and chosen is not None and provider not in chosen:
            left_out.append(f"{src.name} ({provider} not selected)")
            continue
        file = _wheel_file(src, dest, provider, bridge)
        files.append(file)
        if file.role == "python-extension":
            extension = dest
        elif file.role == "provider":
            provider_libs.append((dest, provider))
    if extension is None:
        raise BundleError(f"{package}/capi holds no onnxruntime_pybind11_state extension module")
    bridge_dest = f"{PYTHON_DIR}/onnxruntime/capi/{bridge}"
    loaded: list[RuntimeLoaded] = []
    for dest, provider in provider_libs:
        if any(f.dest == bridge_dest for f in files):
            loaded.append(RuntimeLoaded(bridge_dest, provider, extension))
        loaded.append(RuntimeLoaded(dest, provider, extension))
    gpu = any(p in gpu_providers("linux") for _, p in provider_libs)
    providers = tuple(dict.fromkeys([p for _, p in provider_libs] + [CPU_PROVIDER]))
    return Source(
        path=package,
        kind=DistributionKind.MODULE,
        version=version,
        variant="pypi-gpu" if gpu else "pypi-cpu",
        providers=providers,
        files=tuple(files),
        runtime_loaded=tuple(loaded),
        python_path=PYTHON_DIR,
        requires=_dist_requires(package),
        left_out=tuple(left_out),
    )


def _prefix_source(path: Path, manifest: Manifest, chosen: set[str] | None) -> Source:
    skipped = {
        r.library
        for r in manifest.runtime_loaded
        if chosen is not None and r.provider not in chosen
    } - {r.library for r in manifest.runtime_loaded if chosen is None or r.provider in chosen}
    files: list[PlannedFile] = []
    for entry in manifest.files:
        if entry.path in skipped:
            continue
        src = path / entry.path
        if not src.is_file():
            raise BundleError(f"{src} (listed in {path / MANIFEST_RELPATH}) is missing")
        confined(path, src, BundleError, f"files[].path {entry.path!r}:")
        files.append(PlannedFile(src, entry.path, entry.kind, entry.role, is_elf(src)))
    listed = {f.dest for f in files}
    loaded = []
    for r in manifest.runtime_loaded:
        if r.library in skipped:
            continue
        if r.library not in listed:
            raise BundleError(
                f"{path / MANIFEST_RELPATH}: runtimeLoaded library {r.library} "
                "is not among its files"
            )
        loaded.append(r)
    return Source(
        path=path,
        kind=manifest_kind(manifest),
        version=manifest.version,
        variant=manifest.variant,
        providers=manifest.providers,
        files=tuple(files),
        runtime_loaded=tuple(loaded),
        python_path=manifest.python_path,
        include_dir=manifest.include_dir,
        link_flags=manifest.link_flags,
        preload=manifest.preload,
        left_out=tuple(f"{lib} (provider not selected)" for lib in sorted(skipped)),
    )


def _libdir_source(given: Path, version: str | None) -> Source:
    path = library_dir(given) or given  # a release tarball's lib/, a Debian package's usr/lib/…
    candidates = sorted(p for p in path.iterdir() if p.is_file() and not p.is_symlink())
    if unreadable := [p for p in candidates if not os.access(p, os.R_OK)]:
        raise BundleError(f"{unreadable[0]}: permission denied (cannot read it to bundle it)")
    libs = [p for p in candidates if is_elf(p)]
    if not libs:
        raise BundleError(
            f"{path} holds no ELF files: expected a distribution prefix (with "
            f"{MANIFEST_RELPATH}), an installed onnxruntime package, or a directory of "
            "shared libraries"
        )
    files = []
    for lib in libs:
        try:
            read_elf(lib)
        except ElfError as exc:
            raise BundleError(str(exc)) from None
        files.append(PlannedFile(lib, f"{LIB_DIR}/{lib.name}", FileKind.SHARED, "", True))
    return Source(
        path=path,
        kind=DistributionKind.DIRECTORY,
        version=version or _library_version(libs, path),
        variant="libdir",
        providers=(),
        files=tuple(files),
        runtime_loaded=(),
    )


def inspect_source(dist: Distribution, providers: Iterable[str] | None = None) -> Source:
    """List the files of ``dist`` (``locate(SRC, strict=False)``); ``providers`` limits the
    runtime-loaded providers.

    Raises BundleError (naming the path) when SRC does not exist or holds nothing bundleable.
    """
    chosen = _selected(providers)
    path = dist.root
    if path is None or not path.exists():
        raise BundleError(f"{path}: no such file or directory (expected a distribution to bundle)")
    if not path.is_dir():
        raise BundleError(
            f"{path} is a file; expected a directory: a distribution prefix, an installed "
            "onnxruntime package (or the site-packages holding it), or a directory of libraries"
        )
    if (path / BUNDLE_JSON_RELPATH).exists():
        log.info("%s is itself a bundle; bundling it again as a prefix", path)
    if dist.manifest is not None:
        return _prefix_source(path, dist.manifest, chosen)
    if (path / MANIFEST_RELPATH).exists():  # there, but unreadable
        raise BundleError(dist.problem or f"{path / MANIFEST_RELPATH} cannot be read")
    if dist.kind is DistributionKind.MODULE:
        return _wheel_source(path, dist.version, chosen)
    return _libdir_source(path, dist.library_version)

"""What a directory is: the ONNX Runtime distribution a process should load, or that check,
doctor, reduce and bundle are asked to look at (:func:`locate`, the one classifier).

Order: the ``init()`` argument, ``ORT_WRAPPER_DIST``, ``ORT_LIB_LOCATION``, a bundle carried
inside this package (an ``ort-wrapper wheel``), then the installed ``onnxruntime`` module.
A directory that is (or holds) an ``onnxruntime`` package is a module. A prefix holds
``share/ort-wrapper/manifest.json``; its shared libraries are checked (present, ELF, this
host's architecture, the manifest's ORT version) before anything is loaded. Any other
directory holding ``libonnxruntime.so*`` (npm's ``bin/napi-v6/linux/x64``, a release tarball's
``lib/``, an extracted Debian package, a system library folder) is a distribution too: its
version is what its symbol versions name (``VERS_1.23.2``), or else what the library's
``GetVersionString()`` says, asked in a confined child once the files showed it plausible
(``runtime.untrusted``). Where none of these fits, or its files contradict its manifest,
``locate(strict=False)`` gives a BROKEN record saying why.
"""

from __future__ import annotations

import ast
import enum
import importlib.util
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..elf.reader import host_machine, is_elf, read_elf
from ..errors import ElfError, InitError
from ..manifest import (
    MANIFEST_RELPATH,
    FileKind,
    LinkMode,
    Manifest,
    find_c_api_header,
    load_manifest,
)
from ..untrusted import read_bounded

__all__ = [
    "CARRIED_BUNDLE",
    "CORE_GLOB",
    "CORE_PREFIX",
    "ENV_VARS",
    "INSTALLED_MODULE",
    "Distribution",
    "DistributionKind",
    "core_of",
    "env_root",
    "library_dir",
    "library_version",
    "locate",
    "manifest_kind",
    "module_version",
    "python_constants",
]

log = logging.getLogger(__name__)

ENV_VARS = ("ORT_WRAPPER_DIST", "ORT_LIB_LOCATION")
INSTALLED_MODULE = "installed module"  # the origin of the onnxruntime found on sys.path
# ORT release builds version their exports VERS_<release>; other nodes (VERS_1.0) are not releases.
RELEASE_NODE = re.compile(r"^VERS_(\d+\.\d+\.\d+)$")
CARRIED_BUNDLE = Path(__file__).resolve().parent.parent / "_bundle"
CORE_PREFIX = "libonnxruntime.so"
CORE_GLOB = f"{CORE_PREFIX}*"
# Where a plain directory may keep its libraries: itself, a prefix's lib/, a Debian package's
# multiarch folder.
_LIBRARY_DIRS = (".", "lib", "lib64", "usr/lib/*-linux-gnu", "usr/lib")
_HEADER_DIRS = ("include", "usr/include")  # where a plain directory may keep its C API header


class DistributionKind(enum.StrEnum):
    """What a directory is, the one answer :func:`locate` gives every caller."""

    MODULE = "module"  # an onnxruntime Python package (installed, or a wheel's files)
    PREFIX = "prefix"  # share/ort-wrapper/manifest.json (built, bundled): a module or shared C API
    STATIC = "static"  # a manifest prefix of static archives, run through a link with its flags
    DIRECTORY = "directory"  # any other directory holding libonnxruntime.so* (C API)
    BROKEN = "broken"  # not a usable distribution (``problem`` says why)


@dataclass(frozen=True)
class Distribution:
    """An ONNX Runtime distribution (see DistributionKind); a BROKEN one keeps what could be
    read (a prefix's manifest, a folder's libraries) for listing and diagnosing its files."""

    kind: DistributionKind  # a plain string naming a kind is taken too
    root: Path | None  # the package directory, the prefix or the directory; None: none found
    origin: str  # how it was chosen: argument, ORT_WRAPPER_DIST, ..., installed module
    manifest: Manifest | None = None
    library_version: str | None = None  # a directory's release (see library_version)
    problem: str | None = None  # why a BROKEN one is not usable

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", DistributionKind(self.kind))

    @property
    def version(self) -> str | None:
        """The ORT version the manifest declares, the module's ``__version__``, or the
        library's release."""
        if self.manifest is not None:
            return self.manifest.version
        if self.kind is DistributionKind.MODULE:
            return module_version(self.path)
        return self.library_version

    @property
    def path(self) -> Path:
        """``root``, which only a BROKEN record that names no directory lacks."""
        assert self.root is not None, f"{self.describe()} has no directory"
        return self.root

    @property
    def has_files(self) -> bool:
        """Whether there are files to list and diagnose: all but a BROKEN record with neither a
        readable manifest nor a folder holding ``libonnxruntime.so*``."""
        if self.kind is not DistributionKind.BROKEN:
            return True
        return self.root is not None and (
            self.manifest is not None or library_dir(self.root) is not None
        )

    @property
    def python_path(self) -> Path | None:
        """The directory to put on sys.path to import this distribution's ``onnxruntime``."""
        if self.kind is DistributionKind.MODULE:
            return self.path.parent
        if self.manifest and self.manifest.python_path:
            return self.path / self.manifest.python_path
        return None

    @property
    def preload(self) -> tuple[Path, ...]:
        """Shared libraries to load (RTLD_GLOBAL, in this order) before importing onnxruntime."""
        if self.manifest is None:
            return ()
        return tuple(self.path / p for p in self.manifest.preload)

    @property
    def library_dirs(self) -> tuple[Path, ...]:
        """Directories holding the core and provider libraries."""
        if self.kind is DistributionKind.MODULE:
            return (self.path / "capi",)
        if not self.has_files:
            return ()
        if self.manifest is None:
            found = library_dir(self.path)
            return (found,) if found else ()
        dirs = {
            (self.path / f.path).parent: None for f in self.manifest.files_of_kind(FileKind.SHARED)
        }
        return tuple(dirs) or (self.path / "lib",)

    def shared_objects(self) -> tuple[Path, ...]:
        """The distribution's ELF shared objects that exist: a module's ``capi/*.so*``; a
        prefix's manifest entries of kind shared, and its python entries that are ELF (the
        pybind module). The one listing linking checks and doctor use."""
        if self.kind is DistributionKind.MODULE:
            return tuple(p for p in sorted((self.path / "capi").glob("*.so*")) if is_elf(p))
        if self.manifest is None:
            return _ort_objects(self.library_dirs)
        found = []
        for entry in self.manifest.files:
            if entry.kind not in (FileKind.SHARED, FileKind.PYTHON):
                continue
            path = self.path / entry.path
            if path.is_file() and (entry.kind == FileKind.SHARED or is_elf(path)):
                found.append(path)
        return tuple(found)

    def core_library(self) -> Path | None:
        """The core library among :meth:`shared_objects` (:func:`core_of`); None for a
        static one."""
        return core_of(self.shared_objects())

    def header(self) -> Path | None:
        """The distribution's own ``onnxruntime_c_api.h`` (its includeDir, or ``include/``,
        ``usr/include/`` of a plain directory)."""
        m = self.manifest
        folders = [m.include_dir] if m is not None and m.include_dir else list(_HEADER_DIRS)
        return find_c_api_header(self.path, folders) if self.root is not None else None

    def describe(self) -> str:
        """One line: what and where."""
        m, where = self.manifest, f"{self.root} ({self.origin})"
        if self.kind is DistributionKind.BROKEN:
            return (
                f"{self.root or 'default distribution'}: not a usable distribution ({self.problem})"
            )
        if self.kind is DistributionKind.MODULE:
            return f"installed onnxruntime module at {where}"
        if self.kind is DistributionKind.DIRECTORY or m is None:
            return f"ONNX Runtime {self.version} C library directory {where}"
        if self.kind is DistributionKind.STATIC:
            return f"{m.variant} static C distribution {m.version} at {where}"
        return f"{m.variant} {m.link_mode} distribution {m.version} at {where}"


def _by_name(path: Path) -> tuple[int, str]:
    """Shortest name first: ``libonnxruntime.so`` before ``libonnxruntime.so.1.23.2``."""
    return len(path.name), path.name


def core_of(paths: Iterable[Path]) -> Path | None:
    """The core library among a distribution's ELF files: the shortest ``libonnxruntime.so*``
    name (the one rule for init, check, doctor, bundle and ``ort-wrapper env``)."""
    return min((p for p in paths if p.name.startswith(CORE_PREFIX)), key=_by_name, default=None)


def library_dir(root: Path) -> Path | None:
    """The first of ``root``, ``root/lib``, ``root/lib64``, ``root/usr/lib/<triplet>``,
    ``root/usr/lib`` that holds a ``libonnxruntime.so*`` file."""
    for pattern in _LIBRARY_DIRS:
        for folder in sorted(root.glob(pattern)) if "*" in pattern else [root / pattern]:
            if folder.is_dir() and any(p.is_file() for p in folder.glob(CORE_GLOB)):
                return folder
    return None


def _ort_objects(folders: tuple[Path, ...]) -> tuple[Path, ...]:
    """ONNX Runtime's ELF files (``libonnxruntime*.so*``) in ``folders``, one name per file
    (the shortest, so ``libonnxruntime.so`` over its versioned target)."""
    by_file: dict[Path, Path] = {}
    for folder in folders:
        for path in sorted(folder.glob("libonnxruntime*.so*")):
            if path.is_file() and is_elf(path):
                real = path.resolve()
                best = by_file.get(real)
                if best is None or _by_name(path) < _by_name(best):
                    by_file[real] = path
    return tuple(sorted(by_file.values()))


def python_constants(path: Path) -> dict[str, str]:
    """The module-level string assignments of the Python file ``path`` (``__version__``,
    ``package_name``, ...), read without importing it (an imported native module cannot be
    unloaded again); empty when it is unreadable."""
    try:
        tree = ast.parse(read_bounded(path, InitError, limit=1 << 20))
    except (OSError, InitError, SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        log.debug("no constants read from %s: %s", path, exc)
        return {}
    return {
        node.targets[0].id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    }


def module_version(package_dir: Path) -> str | None:
    """The ``__version__`` an onnxruntime package's ``__init__.py`` declares."""
    return python_constants(package_dir / "__init__.py").get("__version__")


def _installed_module() -> Distribution:
    spec = importlib.util.find_spec("onnxruntime")
    if spec is None or not spec.submodule_search_locations:
        raise InitError(
            "no ONNX Runtime found: the onnxruntime package is not installed and no "
            f"distribution was given (init(path), {' or '.join(ENV_VARS)}); install a wheel "
            "with pip install 'ort-wrapper[cpu]' (CPU) or 'ort-wrapper[gpu]' "
            "(onnxruntime-gpu), or point ORT_WRAPPER_DIST at a distribution"
        )
    return Distribution(
        DistributionKind.MODULE, Path(spec.submodule_search_locations[0]), INSTALLED_MODULE
    )


def _releases(path: Path) -> list[str]:
    """The ONNX Runtime releases ``path``'s symbol versions name (``VERS_1.23.2``)."""
    return [m.group(1) for n in read_elf(path).version_defs if (m := RELEASE_NODE.match(n))]


def _validate_library(root: Path, relpath: str, manifest: Manifest) -> None:
    path = root / relpath
    where = f"{path} (listed in {MANIFEST_RELPATH})"
    if not path.exists():
        raise InitError(f"{where} is missing")
    _check_arch(path, where)
    for release in _releases(path):
        if release != manifest.version:
            raise InitError(
                f"{where} is ONNX Runtime {release} (it defines VERS_{release}), "
                f"expected {manifest.version} as the manifest says"
            )


def _check_arch(path: Path, where: str) -> None:
    try:
        info = read_elf(path)
    except ElfError as exc:
        raise InitError(f"{where}: {exc}".replace(f"{path}: ", "", 1)) from None
    machine, elf_class = host_machine()
    if (info.machine, info.elf_class) != (machine, elf_class):
        expected = f"{machine.removeprefix('EM_').lower()} ({elf_class}-bit)"
        raise InitError(f"{where} is built for {info.arch}, expected {expected} for this host")


def library_version(core: Path, root: Path) -> str:
    """The ONNX Runtime release of ``core`` (of the distribution at ``root``): read from its
    symbol versions (``VERS_1.23.2``) when they name it, else what ``GetVersionString()`` says
    in a confined child. The library is vetted first; InitError when it is refused or cannot
    tell."""
    from ..elf.loadable import diagnose_load
    from .capi.probe import probe_shared
    from .untrusted import Role, vet

    vet(core, root, Role.CORE)
    if releases := _releases(core):
        return releases[0]
    refused = diagnose_load([core])  # read first: the loader would name only its first problem
    if not refused.ok:
        raise InitError(f"{refused.refusal(core)}. Fix: {refused.fix()}")
    result = probe_shared(core, root)
    if result.error or not result.version:
        raise InitError(f"{core}: {result.error or 'GetVersionString() returned nothing'}")
    return result.version


def _directory(root: Path, origin: str, label: str) -> Distribution:
    """A directory without a manifest: its ``libonnxruntime.so*`` and its version."""
    dist = Distribution(DistributionKind.DIRECTORY, root, origin)
    core = dist.core_library()
    if core is None:
        looked = ", ".join(f"{root / d}/" for d in _LIBRARY_DIRS)
        raise InitError(
            f"{label} is not a distribution: it holds neither {MANIFEST_RELPATH} nor an ELF "
            f"{CORE_GLOB} (looked in {looked})"
        )
    _check_arch(core, str(core))
    return Distribution(DistributionKind.DIRECTORY, root, origin, None, library_version(core, root))


def _module_package(root: Path) -> Path | None:
    """The onnxruntime package ``root`` is, or holds (a site-packages directory)."""
    if (root / "capi").is_dir() and (root / "__init__.py").is_file():
        return root
    return root / "onnxruntime" if (root / "onnxruntime" / "capi").is_dir() else None


def manifest_kind(manifest: Manifest) -> DistributionKind:
    """STATIC for static archives without a Python module, else PREFIX."""
    static = manifest.link_mode is LinkMode.STATIC and not manifest.python_path
    return DistributionKind.STATIC if static else DistributionKind.PREFIX


def _prefix(root: Path, origin: str) -> Distribution:
    """A directory with a manifest, its libraries and its module checked against it."""
    manifest = load_manifest(root)
    for entry in manifest.files_of_kind(FileKind.SHARED):
        _validate_library(root, entry.path, manifest)
    for relpath in manifest.preload:
        _validate_library(root, relpath, manifest)
    dist = Distribution(manifest_kind(manifest), root, origin, manifest)
    if dist.python_path is None:
        return dist  # a C distribution: the C API backend runs it
    package = dist.python_path / "onnxruntime"
    if not (package / "__init__.py").exists():
        raise InitError(f"{package} (pythonPath of {MANIFEST_RELPATH}) is missing")
    declared = module_version(package)
    if declared != manifest.version:
        raise InitError(
            f"{dist.describe()} declares ONNX Runtime {manifest.version}, but its module "
            f"{package} is {declared or 'of unknown version'}"
        )
    return dist


def _classify(root: Path, origin: str) -> Distribution:
    """What the directory ``root`` is, checked before anything loads; InitError saying why
    it is no usable distribution."""
    label = f"{origin}={root}" if origin in ENV_VARS else str(root)
    if not root.exists():
        raise InitError(f"{label}: no such directory (expected a distribution directory)")
    if not root.is_dir():
        kind = "an ELF file" if is_elf(root) else "a file"
        raise InitError(
            f"{label} is {kind}, expected a distribution directory (holding {MANIFEST_RELPATH} "
            f"or {CORE_GLOB})"
        )
    if (root / MANIFEST_RELPATH).exists():
        return _prefix(root, origin)
    if (package := _module_package(root)) is not None:
        return Distribution(DistributionKind.MODULE, package, origin)
    return _directory(root, origin, label)


def _broken(root: Path | None, origin: str, problem: str) -> Distribution:
    """A BROKEN record of ``root``, with its manifest when that can be read."""
    manifest = None
    if root is not None and (root / MANIFEST_RELPATH).is_file():
        try:
            manifest = load_manifest(root)
        except InitError as exc:
            problem = str(exc)
    return Distribution(DistributionKind.BROKEN, root, origin, manifest, problem=problem)


def env_root(var: str, value: str) -> Path:
    """The distribution the variable ``var`` set to ``value`` names. ``ORT_LIB_LOCATION`` is the
    folder holding the library for the ``ort`` crate (``ort-wrapper env`` sets it to a prefix's
    ``lib/``): a folder without a manifest whose parent has one stands for that parent."""
    path = Path(value).expanduser().absolute()
    in_prefix = not (path / MANIFEST_RELPATH).exists() and (path.parent / MANIFEST_RELPATH).exists()
    return path.parent if var == "ORT_LIB_LOCATION" and in_prefix else path


def _chosen(distribution: str | os.PathLike[str] | None) -> tuple[Path | None, str]:
    """The directory to look at and why (None: the installed module)."""
    if distribution is not None:
        return Path(distribution).expanduser().absolute(), "argument"
    for var in ENV_VARS:
        if value := os.environ.get(var):
            return env_root(var, value), var
    if (CARRIED_BUNDLE / MANIFEST_RELPATH).exists():
        return CARRIED_BUNDLE, "carried bundle"
    return None, INSTALLED_MODULE


def locate(
    distribution: str | os.PathLike[str] | None = None, *, strict: bool = True
) -> Distribution:
    """Choose the distribution (the module docstring gives the order) and say what it is: the
    one answer for init(), check, doctor, reduce and bundle. ``strict``: InitError when it is
    not usable; else a BROKEN record says why and keeps what could be read."""
    root, origin = _chosen(distribution)
    try:
        return _installed_module() if root is None else _classify(root, origin)
    except InitError as exc:
        if strict:
            raise
        return _broken(root, origin, str(exc))

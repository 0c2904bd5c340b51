"""Finding and validating the ONNX Runtime distribution a process should load.

Order: the ``init()`` argument, ``ORT_WRAPPER_DIST``, ``ORT_LIB_LOCATION``, a bundle carried
inside this package (an ``ort-wrapper wheel``), then the installed ``onnxruntime`` module.
A distribution directory holds ``share/ort-wrapper/manifest.json``; its shared libraries are
checked (present, ELF, this host's architecture, the manifest's ORT version) before anything
is loaded.
"""

from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..elf.reader import host_machine, is_elf, read_elf
from ..errors import ElfError, InitError
from ..files import read_bounded
from ..manifest import MANIFEST_RELPATH, Manifest, load_manifest

__all__ = ["CARRIED_BUNDLE", "ENV_VARS", "Distribution", "locate", "module_version"]

ENV_VARS = ("ORT_WRAPPER_DIST", "ORT_LIB_LOCATION")
# ORT release builds version their exports VERS_<release>; other nodes (VERS_1.0) are not releases.
_RELEASE_NODE = re.compile(r"^VERS_(\d+\.\d+\.\d+)$")
_MODULE_VERSION = re.compile(r"^__version__\s*=\s*[\"']([^\"']+)[\"']", re.MULTILINE)
CARRIED_BUNDLE = Path(__file__).resolve().parent.parent / "_bundle"


@dataclass(frozen=True)
class Distribution:
    """An ONNX Runtime distribution: an installed Python module or a prefix with a manifest."""

    kind: str  # "module" or "prefix"
    root: Path  # the onnxruntime package directory, or the prefix
    origin: str  # how it was chosen: argument, ORT_WRAPPER_DIST, ..., installed module
    manifest: Manifest | None = None

    @property
    def version(self) -> str | None:
        """The ORT version the manifest declares (None for a module: known after import)."""
        return self.manifest.version if self.manifest else None

    @property
    def python_path(self) -> Path | None:
        """The directory to put on sys.path to import this distribution's ``onnxruntime``."""
        if self.kind == "module":
            return self.root.parent
        if self.manifest and self.manifest.python_path:
            return self.root / self.manifest.python_path
        return None

    @property
    def preload(self) -> tuple[Path, ...]:
        """Shared libraries to load (RTLD_GLOBAL, in this order) before importing onnxruntime."""
        if self.manifest is None:
            return ()
        return tuple(self.root / p for p in self.manifest.preload)

    @property
    def library_dirs(self) -> tuple[Path, ...]:
        """Directories holding the core and provider libraries."""
        if self.kind == "module":
            return (self.root / "capi",)
        assert self.manifest is not None
        dirs = {(self.root / f.path).parent: None for f in self.manifest.files_of_kind("shared")}
        return tuple(dirs) or (self.root / "lib",)

    def shared_objects(self) -> tuple[Path, ...]:
        """The distribution's ELF shared objects that exist: a module's ``capi/*.so*``; a
        prefix's manifest entries of kind shared, and its python entries that are ELF (the
        pybind module). The one listing linking checks and doctor use."""
        if self.kind == "module":
            return tuple(p for p in sorted((self.root / "capi").glob("*.so*")) if is_elf(p))
        if self.manifest is None:
            return ()
        found = []
        for entry in self.manifest.files:
            if entry.kind not in ("shared", "python"):
                continue
            path = self.root / entry.path
            if path.is_file() and (entry.kind == "shared" or is_elf(path)):
                found.append(path)
        return tuple(found)

    def core_library(self) -> Path | None:
        """The core ``libonnxruntime.so*`` among :meth:`shared_objects` (the shortest name, so
        ``libonnxruntime.so`` over ``libonnxruntime.so.1.23.2``); None for a static one."""
        cores = [p for p in self.shared_objects() if p.name.startswith("libonnxruntime.so")]
        return min(cores, key=lambda p: (len(p.name), p.name)) if cores else None

    def describe(self) -> str:
        """One line: what and where."""
        if self.kind == "module":
            return f"installed onnxruntime module at {self.root} ({self.origin})"
        m = self.manifest
        assert m is not None
        return f"{m.variant} {m.link_mode} distribution {m.version} at {self.root} ({self.origin})"


def module_version(package_dir: Path) -> str | None:
    """The ``__version__`` an onnxruntime package's ``__init__.py`` declares, read without
    importing it (an imported native module cannot be unloaded again)."""
    try:
        text = read_bounded(package_dir / "__init__.py", InitError).decode("utf-8", "replace")
    except (OSError, InitError):
        return None
    match = _MODULE_VERSION.search(text)
    return match.group(1) if match else None


def _installed_module() -> Distribution:
    spec = importlib.util.find_spec("onnxruntime")
    if spec is None or not spec.submodule_search_locations:
        raise InitError(
            "no ONNX Runtime found: the onnxruntime package is not installed and no "
            f"distribution was given (init(path), {' or '.join(ENV_VARS)}); install a wheel "
            "with pip install 'ort-wrapper[cpu]' (CPU) or 'ort-wrapper[gpu]' "
            "(onnxruntime-gpu), or point ORT_WRAPPER_DIST at a distribution"
        )
    return Distribution("module", Path(spec.submodule_search_locations[0]), "installed module")


def _validate_library(root: Path, relpath: str, manifest: Manifest) -> None:
    path = root / relpath
    where = f"{path} (listed in {MANIFEST_RELPATH})"
    if not path.exists():
        raise InitError(f"{where} is missing")
    try:
        info = read_elf(path)
    except ElfError as exc:
        raise InitError(f"{where}: {exc}".replace(f"{path}: ", "", 1)) from None
    machine, elf_class = host_machine()
    if (info.machine, info.elf_class) != (machine, elf_class):
        expected = f"{machine.removeprefix('EM_').lower()} ({elf_class}-bit)"
        raise InitError(f"{where} is built for {info.arch}, expected {expected} for this host")
    for name in info.version_defs:
        release = _RELEASE_NODE.match(name)
        if release and release.group(1) != manifest.version:
            raise InitError(
                f"{where} is ONNX Runtime {release.group(1)} (it defines {name}), "
                f"expected {manifest.version} as the manifest says"
            )


def _prefix(root: Path, origin: str) -> Distribution:
    label = f"{origin}={root}" if origin in ENV_VARS else str(root)
    if not root.exists():
        raise InitError(f"{label}: no such directory (expected a distribution prefix)")
    if not root.is_dir():
        kind = "an ELF file" if is_elf(root) else "a file"
        raise InitError(
            f"{label} is {kind}, expected a distribution directory holding {MANIFEST_RELPATH}"
        )
    manifest = load_manifest(root)
    for entry in manifest.files_of_kind("shared"):
        _validate_library(root, entry.path, manifest)
    for relpath in manifest.preload:
        _validate_library(root, relpath, manifest)
    dist = Distribution("prefix", root, origin, manifest)
    if dist.python_path is None:
        raise InitError(
            f"{dist.describe()} carries no Python module (a {manifest.link_mode} C distribution "
            "meant for linking): use `ort-wrapper link-flags` to link against it and "
            "`ort-wrapper check --dist` to validate it"
        )
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


def locate(distribution: str | os.PathLike[str] | None = None) -> Distribution:
    """Choose and validate the distribution (see the module docstring for the order)."""
    if distribution is not None:
        return _prefix(Path(distribution).expanduser().absolute(), "argument")
    for var in ENV_VARS:
        if value := os.environ.get(var):
            return _prefix(Path(value).expanduser().absolute(), var)
    if (CARRIED_BUNDLE / MANIFEST_RELPATH).exists():
        return _prefix(CARRIED_BUNDLE, "carried bundle")
    return _installed_module()

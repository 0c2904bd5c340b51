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
from ..manifest import MANIFEST_RELPATH, Manifest, load_manifest

__all__ = ["CARRIED_BUNDLE", "ENV_VARS", "Distribution", "locate"]

ENV_VARS = ("ORT_WRAPPER_DIST", "ORT_LIB_LOCATION")
# ORT release builds version their exports VERS_<release>; other nodes (VERS_1.0) are not releases.
_RELEASE_NODE = re.compile(r"^VERS_(\d+\.\d+\.\d+)$")
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

    def describe(self) -> str:
        """One line: what and where."""
        if self.kind == "module":
            return f"installed onnxruntime module at {self.root} ({self.origin})"
        m = self.manifest
        assert m is not None
        return f"{m.variant} {m.link_mode} distribution {m.version} at {self.root} ({self.origin})"


def _installed_module() -> Distribution:
    spec = importlib.util.find_spec("onnxruntime")
    if spec is None or not spec.submodule_search_locations:
        raise InitError(
            "no ONNX Runtime found: the onnxruntime package is not installed and no "
            f"distribution was given (init(path), {' or '.join(ENV_VARS)})"
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
    if not (dist.python_path / "onnxruntime" / "__init__.py").exists():
        raise InitError(
            f"{dist.python_path}/onnxruntime (pythonPath of {MANIFEST_RELPATH}) is missing"
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

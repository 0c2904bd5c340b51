"""What ``ort-wrapper check`` and ``doctor`` are asked to look at: a distribution, or why it is
not one.

``locate()`` is strict (it refuses lying manifests); the harness still needs the manifest of
such a prefix for its linking section, so a Target keeps whatever could be read and the reason
sessions cannot be created.
"""

from __future__ import annotations

import enum
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InitError
from ..manifest import MANIFEST_RELPATH, LinkMode, Manifest, load_manifest
from .distribution import (
    ENV_VARS,
    Distribution,
    DistributionKind,
    env_root,
    library_dir,
    locate,
    module_version,
    python_constants,
)

__all__ = ["Target", "TargetKind", "interpreter_for", "package_info", "resolve_target"]


_INFO_FILE = Path("capi/build_and_package_info.py")


class TargetKind(enum.StrEnum):
    """What is checked; every kind but BROKEN gets all five sections."""

    MODULE = "module"  # an installed onnxruntime package (pybind)
    PREFIX = "prefix"  # a manifest prefix or bundle: its Python module, or its shared C library
    DIRECTORY = "directory"  # a plain directory holding libonnxruntime.so* (C API)
    STATIC = "static"  # static archives, run through a shared object linked with their flags
    BROKEN = "broken"  # not a usable distribution (``problem`` says why)


@dataclass(frozen=True)
class Target:
    """The distribution under check (see TargetKind)."""

    given: str | None  # the --dist argument as given
    kind: TargetKind
    root: Path | None
    version: str | None
    manifest: Manifest | None = None
    dist: Distribution | None = None  # set when sessions can be created from Python
    problem: str | None = None  # why not, when dist is None

    @property
    def layout(self) -> Distribution | None:
        """The distribution's files: ``dist`` when loadable, else an unvalidated view of a
        prefix whose manifest could be read (a static C distribution), or of a folder holding
        ``libonnxruntime.so*`` that cannot load here, for listing and diagnosing them."""
        if self.dist is not None:
            return self.dist
        if self.manifest is not None and self.root is not None:
            return Distribution(DistributionKind.PREFIX, self.root, "argument", self.manifest)
        if self.root is not None and self.root.is_dir() and library_dir(self.root) is not None:
            return Distribution(DistributionKind.DIRECTORY, self.root, "argument")
        return None

    def describe(self) -> str:
        """One line for the report's header."""
        if self.kind == "static" and self.manifest is not None:
            m = self.manifest
            return f"{m.variant} static C distribution {m.version} at {self.root}"
        if self.dist is not None:
            return self.dist.describe()
        return f"{self.given or 'default distribution'}: not a usable distribution ({self.problem})"

    def to_json(self) -> dict[str, Any]:
        """The report's ``distribution`` object."""
        m = self.manifest
        return {
            "given": self.given,
            "kind": self.kind,
            "root": str(self.root) if self.root else None,
            "version": self.version,
            "variant": m.variant if m else None,
            "linkMode": m.link_mode if m else (None if self.kind == "broken" else "shared"),
            "providers": list(m.providers) if m else None,
            "problem": self.problem,
            "describe": self.describe(),
        }


def package_info(module_root: Path) -> dict[str, str]:
    """``onnxruntime/capi/build_and_package_info.py`` as data (package_name, __version__,
    cuda_version, ...): which wheel wrote the files on disk, read without importing them."""
    return python_constants(module_root / _INFO_FILE)


def _env_root() -> Path | None:
    """The distribution the first set variable of ``ENV_VARS`` names (what ``locate()`` tried)."""
    var = next((v for v in ENV_VARS if os.environ.get(v)), None)
    return env_root(var, os.environ[var]) if var else None


def resolve_target(path: str | os.PathLike[str] | None) -> Target:
    """Locate the distribution at ``path`` (default: what ``init()`` would load); never raises
    for bad input: the problem is recorded in the Target."""
    given = None if path is None else str(path)
    try:
        dist = locate(path)
    except InitError as exc:
        problem = str(exc)
        root = Path(path).expanduser().absolute() if path is not None else _env_root()
        manifest = None
        if root is not None and (root / MANIFEST_RELPATH).is_file():
            try:
                manifest = load_manifest(root)
            except InitError as manifest_error:
                problem = str(manifest_error)
        version = manifest.version if manifest else None
        return Target(given, TargetKind.BROKEN, root, version, manifest, None, problem)
    if dist.kind == "module":
        return Target(given, TargetKind.MODULE, dist.root, module_version(dist.root), None, dist)
    if dist.kind == "directory":
        return Target(given, TargetKind.DIRECTORY, dist.root, dist.version, None, dist)
    static = dist.manifest is not None and dist.manifest.link_mode == LinkMode.STATIC
    kind = TargetKind.STATIC if static and dist.python_path is None else TargetKind.PREFIX
    return Target(given, kind, dist.root, dist.version, dist.manifest, dist)


def interpreter_for(target: Target) -> tuple[str, dict[str, str]]:
    """The Python (and the environment it needs) in which ``init(target.root)`` works: this
    one, or for a static distribution whose archives do not link into a shared object, a
    Python linked with them (LinkError when neither)."""
    if target.kind is not TargetKind.STATIC:
        return sys.executable, {}
    from .capi.library import static_interpreter

    assert target.root is not None and target.manifest is not None
    return static_interpreter(target.root, target.manifest)

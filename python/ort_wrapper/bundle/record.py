"""The one reader of ``share/ort-wrapper/bundle.json``, the record ``bundle`` writes: every
file with its hash (and RUNPATH for ELF files), the symlinks it made (the core library's
link-time name and SONAME), the provider libraries left out on purpose and the Python
requirements the bundle carries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import BundleError
from ..files import relpath_problem
from ..untrusted import read_json
from . import BUNDLE_JSON_RELPATH

__all__ = ["BundleRecord", "BundledFile", "BundledLink", "LeftOut", "read_bundle_record"]


@dataclass(frozen=True)
class BundledFile:
    """One file the bundle holds."""

    path: str  # relative to the bundle's root
    sha256: str
    runpath: str | None = None  # set for ELF files (the RUNPATH the bundle gave them)


@dataclass(frozen=True)
class BundledLink:
    """A symlink the bundle made: ``path`` (relative to the root) names a file beside it."""

    path: str
    target: str  # a file name in the same folder

    def to_json(self) -> dict[str, str]:
        """bundle.json's form."""
        return {"path": self.path, "target": self.target}


@dataclass(frozen=True)
class LeftOut:
    """A provider library the bundle left out on purpose (``bundle --provider``)."""

    path: str  # the library's path in the source
    why: str

    @property
    def name(self) -> str:
        """The library's file name."""
        return PurePosixPath(self.path).name

    @classmethod
    def parse(cls, entry: str) -> LeftOut:
        """bundle.json's form: '<path> (<why>)'."""
        path, _, why = entry.partition(" (")
        return cls(path, why.removesuffix(")"))


@dataclass(frozen=True)
class BundleRecord:
    """What bundle.json says."""

    version: str
    variant: str
    files: tuple[BundledFile, ...]
    left_out: tuple[LeftOut, ...] = ()
    python_requires: tuple[str, ...] = ()
    links: tuple[BundledLink, ...] = ()


def _field(where: str, data: Mapping[str, Any], key: str, kind: type, default: Any = None) -> Any:
    value = data.get(key, default)
    if not isinstance(value, kind):
        raise BundleError(f"{where}: key {key!r} must be a {kind.__name__}, not {value!r:.80}")
    return value


def _strings(where: str, data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    values = _field(where, data, key, list, [])
    if not all(isinstance(v, str) for v in values):
        raise BundleError(f"{where}: key {key!r} must be a list of strings")
    return tuple(values)


def _file(where: str, entry: Any) -> BundledFile:
    if not isinstance(entry, dict):
        raise BundleError(f"{where}: every entry of 'files' must be an object, not {entry!r:.80}")
    path = _field(where, entry, "path", str)
    if (problem := relpath_problem(path)) is not None:
        raise BundleError(f"{where}: file {path!r} {problem}")
    runpath = entry.get("runpath")
    if runpath is not None and not isinstance(runpath, str):
        raise BundleError(f"{where}: the runpath of {path!r} must be a string")
    return BundledFile(path, _field(where, entry, "sha256", str), runpath)


def _link(where: str, entry: Any) -> BundledLink:
    if not isinstance(entry, dict):
        raise BundleError(f"{where}: every entry of 'links' must be an object, not {entry!r:.80}")
    path, target = _field(where, entry, "path", str), _field(where, entry, "target", str)
    if (problem := relpath_problem(path)) is not None:
        raise BundleError(f"{where}: link {path!r} {problem}")
    if "/" in target or target in ("", ".", ".."):
        raise BundleError(f"{where}: link {path!r} must name a file beside it, not {target!r}")
    return BundledLink(path, target)


def read_bundle_record(root: Path) -> BundleRecord:
    """Read and validate ``root``'s bundle.json; BundleError names the file and the problem
    (FileNotFoundError passes, for callers that treat a missing record as 'not a bundle')."""
    where = str(root / BUNDLE_JSON_RELPATH)
    data = read_json(root / BUNDLE_JSON_RELPATH, BundleError, root=root)
    if not isinstance(data, dict):
        raise BundleError(f"{where} must hold a JSON object")
    source = _field(where, data, "source", dict, {})
    return BundleRecord(
        version=_field(where, data, "version", str),
        variant=_field(where, source, "variant", str),
        files=tuple(_file(where, e) for e in _field(where, data, "files", list)),
        left_out=tuple(LeftOut.parse(e) for e in _strings(where, data, "leftOut")),
        python_requires=_strings(where, data, "pythonRequires"),
        links=tuple(_link(where, e) for e in _field(where, data, "links", list, [])),
    )

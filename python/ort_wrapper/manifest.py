"""``share/ort-wrapper/manifest.json``: what a distribution says about itself.

Written by ``finalize`` (build) and ``bundle``; read by ``init()``, ``check`` and ``doctor``.
Paths inside are relative to the distribution's root (the prefix). Reading validates every
field and names the file and key at fault, so a lying or broken manifest is a clear error; every
path (``files[].path``, ``preload``, ``pythonPath``, ``includeDir``, ``runtimeLoaded``) must stay
below the root, and each file is listed once, so no consumer can be led outside the root.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from .errors import InitError, InputError
from .files import relpath_problem, write_json_atomic
from .matrix import RuntimeLoaded
from .operators import OperatorConfig
from .untrusted import read_json

__all__ = [
    "C_API_HEADER",
    "MANIFEST_RELPATH",
    "PREFIX_VAR",
    "FileEntry",
    "FileKind",
    "LinkMode",
    "Manifest",
    "find_c_api_header",
    "load_manifest",
    "parse_manifest",
    "substitute",
]

MANIFEST_RELPATH = Path("share/ort-wrapper/manifest.json")
C_API_HEADER = "onnxruntime_c_api.h"
PREFIX_VAR = "${prefix}"  # stands for the distribution's root in linkFlags
FRAMEWORK = "-framework"  # darwin: a linkFlags item followed by the framework's name
# The options a link flag may be: libraries, search directories, groups, darwin frameworks
# (the name that follows is a plain word, not an option). Anything else that
# starts with '-' or '@' (-o, -Wl,<anything>, -fplugin=, @file) could make the compiler or
# linker `check` runs write or run anything.
_LINK_OPTION_PREFIXES = ("-l", "-L")
_LINK_OPTIONS = frozenset(
    {
        "-Wl,--start-group",
        "-Wl,--end-group",
        "-Wl,--whole-archive",  # which archive members are linked: nothing written or run
        "-Wl,--no-whole-archive",
        "-pthread",
        FRAMEWORK,
    }
)
_RPATH = "-Wl,-rpath,"  # accepted only before a ${prefix} path with no comma (one linker word)
SCHEMA = 1


class FileKind(StrEnum):
    """What a distribution file is (``files[].kind``)."""

    SHARED = "shared"
    ARCHIVE = "archive"
    HEADER = "header"
    PYTHON = "python"
    PKGCONFIG = "pkgconfig"
    DATA = "data"


class LinkMode(StrEnum):
    """How consumers link the distribution (``linkMode``)."""

    STATIC = "static"
    SHARED = "shared"


@dataclass(frozen=True)
class FileEntry:
    """One file of the distribution."""

    path: str  # relative to the root
    kind: FileKind  # a plain string naming a kind is taken too
    sha256: str
    role: str = ""  # free text: core, provider, dependency, abseil, ...

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", FileKind(self.kind))


@dataclass(frozen=True)
class Manifest:
    """A distribution's self-description (schema 1)."""

    version: str
    variant: str
    link_mode: LinkMode  # a plain string naming a mode is taken too
    providers: tuple[str, ...]
    files: tuple[FileEntry, ...]
    link_flags: tuple[str, ...] = ()  # '${prefix}' stands for the root
    runtime_loaded: tuple[RuntimeLoaded, ...] = ()  # paths relative to the root
    preload: tuple[str, ...] = ()  # shared libraries to load first, dependencies first
    python_path: str | None = None  # directory holding the ``onnxruntime`` package
    include_dir: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)  # source, patches, abseil, bundle ...
    reduced_for: OperatorConfig | None = None  # a reduced build: the operators it registers

    def __post_init__(self) -> None:
        object.__setattr__(self, "link_mode", LinkMode(self.link_mode))

    def to_json(self) -> dict[str, Any]:
        """The JSON form (camelCase keys, as Nix and other readers see it)."""
        return {
            "schema": SCHEMA,
            "name": "onnxruntime",
            "version": self.version,
            "variant": self.variant,
            "linkMode": self.link_mode,
            "providers": list(self.providers),
            "files": [asdict(f) for f in self.files],
            "linkFlags": list(self.link_flags),
            "runtimeLoaded": [r.to_json() for r in self.runtime_loaded],
            "preload": list(self.preload),
            "pythonPath": self.python_path,
            "includeDir": self.include_dir,
            **({"extra": dict(self.extra)} if self.extra else {}),
            **({"reducedFor": self.reduced_for.to_json()} if self.reduced_for else {}),
        }

    def files_of_kind(self, kind: FileKind) -> tuple[FileEntry, ...]:
        """Entries of one kind, in manifest order."""
        return tuple(f for f in self.files if f.kind == kind)

    def write(self, root: Path) -> Path:
        """Write atomically to ``root/share/ort-wrapper/manifest.json``."""
        return write_json_atomic(root / MANIFEST_RELPATH, self.to_json())


def _req(where: str, data: Mapping[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    if key not in data:
        raise InitError(f"{where}: missing key {key!r}")
    value = data[key]
    if not isinstance(value, kind):
        expected = (
            kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        )
        raise InitError(f"{where}: key {key!r} must be {expected}, got {type(value).__name__}")
    return value


def _strings(where: str, data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    values = data.get(key, [])
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise InitError(f"{where}: key {key!r} must be a list of strings")
    return tuple(values)


def _relpath(where: str, key: str, value: str) -> str:
    """``value`` (the path at ``key``) when it stays below the root; InitError otherwise."""
    problem = relpath_problem(value.rstrip("/") or value)
    if problem is not None:
        raise InitError(f"{where}: {key} {value!r} {problem}")
    return value


def _link_flags(where: str, data: Mapping[str, Any]) -> tuple[str, ...]:
    """linkFlags: library files and RUNPATHs (``${prefix}/…`` confined to the root) and the
    options above."""
    flags = _strings(where, data, "linkFlags")
    for i, flag in enumerate(flags):
        at = f"{where}: linkFlags[{i}]"
        path = flag.removeprefix(_RPATH)
        if path.startswith(PREFIX_VAR) and not (path != flag and "," in path):
            _relpath(at, "path", path.removeprefix(f"{PREFIX_VAR}/"))
        elif flag.startswith(("-", "@")) and not (
            flag in _LINK_OPTIONS or flag.startswith(_LINK_OPTION_PREFIXES)
        ):
            raise InitError(
                f"{at}: {flag!r} is not a library, a -L search directory or a link group: "
                "refused (such an option could make the compiler or linker write or run anything)"
            )
    return flags


def _files(where: str, data: Mapping[str, Any]) -> tuple[FileEntry, ...]:
    files: list[FileEntry] = []
    first: dict[str, int] = {}  # path -> index of its entry
    for i, entry in enumerate(_req(where, data, "files", list)):
        at = f"{where}: files[{i}]"
        if not isinstance(entry, dict):
            raise InitError(f"{at}: expected an object")
        kind = _req(at, entry, "kind", str)
        if kind not in set(FileKind):
            kinds = tuple(k.value for k in FileKind)
            raise InitError(f"{at}: kind must be one of {kinds}, got {kind!r}")
        path = _relpath(at, "path", _req(at, entry, "path", str))
        if path in first:
            raise InitError(f"{at}: path {path!r} is already listed at files[{first[path]}]")
        first[path] = i
        files.append(FileEntry(path, kind, _req(at, entry, "sha256", str), entry.get("role", "")))
    return tuple(files)


def find_c_api_header(root: Path, folders: Sequence[str]) -> Path | None:
    """The first ``onnxruntime_c_api.h`` under ``root/<folder>`` for each of ``folders`` in
    turn (the first in sorted order within one): the one header finder of finalize (an
    install's ``include/``), check and the C API backend (a distribution's ``includeDir``)."""
    for folder in folders:
        base = root / folder
        found = sorted(base.rglob(C_API_HEADER)) if base.is_dir() else []
        if found:
            return found[0]
    return None


def substitute(flags: Sequence[str], prefix: Path) -> list[str]:
    """Replace ``${prefix}`` by the distribution's actual root."""
    return [f.replace(PREFIX_VAR, str(prefix)) for f in flags]


def parse_manifest(data: Any, where: str) -> Manifest:
    """Validate the JSON form of a manifest; ``where`` names it in errors."""
    if not isinstance(data, dict):
        raise InitError(f"{where}: expected a JSON object")
    if _req(where, data, "schema", int) != SCHEMA:
        raise InitError(
            f"{where}: unsupported schema {data['schema']} (this reader knows {SCHEMA})"
        )
    link_mode = _req(where, data, "linkMode", str)
    if link_mode not in set(LinkMode):
        raise InitError(f"{where}: linkMode must be 'static' or 'shared', got {link_mode!r}")
    files = _files(where, data)
    loaded = []
    runtime_loaded = data.get("runtimeLoaded", [])
    if not isinstance(runtime_loaded, list):
        raise InitError(f"{where}: key 'runtimeLoaded' must be a list")
    for i, entry in enumerate(runtime_loaded):
        at = f"{where}: runtimeLoaded[{i}]"
        if not isinstance(entry, dict):
            raise InitError(f"{at}: expected an object")
        loaded.append(
            RuntimeLoaded(
                _relpath(at, "library", _req(at, entry, "library", str)),
                _req(at, entry, "provider", str),
                _relpath(at, "loadedBy", _req(at, entry, "loadedBy", str)),
            )
        )
    python_path = data.get("pythonPath")
    include_dir = data.get("includeDir")
    for key, value in (("pythonPath", python_path), ("includeDir", include_dir)):
        if value is not None and not isinstance(value, str):
            raise InitError(f"{where}: key {key!r} must be a string or null")
        if value is not None:
            _relpath(where, key, value)
    preload = tuple(
        _relpath(f"{where}: preload[{i}]", "path", p)
        for i, p in enumerate(_strings(where, data, "preload"))
    )
    extra = data.get("extra", {})
    if not isinstance(extra, dict):
        raise InitError(f"{where}: key 'extra' must be an object")
    return Manifest(
        version=_req(where, data, "version", str),
        variant=_req(where, data, "variant", str),
        link_mode=link_mode,
        providers=_strings(where, data, "providers"),
        files=files,
        link_flags=_link_flags(where, data),
        runtime_loaded=tuple(loaded),
        preload=preload,
        python_path=python_path,
        include_dir=include_dir,
        extra=extra,
        reduced_for=_reduced_for(where, data),
    )


def _reduced_for(where: str, data: Mapping[str, Any]) -> OperatorConfig | None:
    if "reducedFor" not in data:
        return None
    try:
        return OperatorConfig.from_json(data["reducedFor"], f"{where}: reducedFor")
    except InputError as exc:
        raise InitError(str(exc)) from None


def load_manifest(root: Path) -> Manifest:
    """Read and validate ``root``'s manifest; InitError names the file and the problem."""
    path = root / MANIFEST_RELPATH
    try:
        data = read_json(path, InitError, root=root)
    except FileNotFoundError:
        raise InitError(f"{root} is not a distribution: {MANIFEST_RELPATH} is missing") from None
    return parse_manifest(data, str(path))

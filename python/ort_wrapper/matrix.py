"""The variant matrix: pkgs/variants.json, the one place for variants and the ORT version.

The same file is read by Nix (``builtins.fromJSON``) and, through the symlink shipped in this
package, by Python. Loading validates every field and names the variant and key at fault.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from .errors import VariantError
from .untrusted import read_json

__all__ = [
    "Matrix",
    "RuntimeLoaded",
    "Variant",
    "api_version_for",
    "load_matrix",
    "matrix_path",
    "parse_matrix",
]

_VARIANT_KEYS = {
    "description": str,
    "platforms": list,
    "linkMode": str,
    "providers": list,
    "cmakeFlags": dict,
    "patches": list,
    "runtimeLoaded": list,
    "experimental": bool,
}
_TOP_KEYS = {"schema": int, "ort": dict, "commonCmakeFlags": dict, "variants": dict}
_ORT_KEYS = {
    "version": str,
    "owner": str,
    "repo": str,
    "fetchSubmodules": bool,
    "hash": str,
}
_LINK_MODES = ("static", "shared")
_RUNTIME_LOADED_KEYS = {"library": str, "provider": str, "loadedBy": str}


@dataclass(frozen=True)
class RuntimeLoaded:
    """A library ONNX Runtime dlopens (invisible to DT_NEEDED): in the matrix by file name, in a
    manifest or a bundle by its path relative to the root (``library`` and ``loaded_by``)."""

    library: str
    provider: str
    loaded_by: str

    def to_json(self) -> dict[str, str]:
        """The JSON form (``runtimeLoaded[]`` of variants.json and manifest.json)."""
        return {"library": self.library, "provider": self.provider, "loadedBy": self.loaded_by}


@dataclass(frozen=True)
class Variant:
    """One row of the variant matrix."""

    name: str
    description: str
    platforms: tuple[str, ...]
    link_mode: str
    providers: tuple[str, ...]
    cmake_flags: Mapping[str, bool | str]
    patches: tuple[str, ...]
    runtime_loaded: tuple[RuntimeLoaded, ...]
    experimental: bool


@dataclass(frozen=True)
class Matrix:
    """The whole matrix: the ORT source pin, the common flags and the variants."""

    path: Path
    ort_version: str
    ort_source: Mapping[str, Any]
    common_cmake_flags: Mapping[str, bool | str]
    variants: Mapping[str, Variant]

    def variant(self, name: str) -> Variant:
        """Return the variant called ``name`` or raise VariantError listing the known ones."""
        try:
            return self.variants[name]
        except KeyError:
            known = ", ".join(sorted(self.variants))
            raise VariantError(f"unknown variant {name!r} (known: {known})") from None

    def cmake_flags(self, name: str) -> dict[str, bool | str]:
        """The full CMake cache settings of a variant: common flags, then the variant's own."""
        return {**self.common_cmake_flags, **self.variant(name).cmake_flags}


def api_version_for(version: str) -> int:
    """ORT's C API version for a release: the minor number (1.23.2 -> 23)."""
    parts = version.split(".")
    if len(parts) < 2 or parts[0] != "1" or not parts[1].isdigit():
        raise VariantError(f"cannot derive the C API version from ORT version {version!r}")
    return int(parts[1])


def matrix_path() -> Path:
    """Where the matrix is read from: ORT_WRAPPER_VARIANTS, else the copy shipped here."""
    override = os.environ.get("ORT_WRAPPER_VARIANTS")
    return Path(override) if override else Path(__file__).with_name("variants.json")


def _check_keys(where: str, data: Any, spec: Mapping[str, type]) -> None:
    if not isinstance(data, dict):
        raise VariantError(f"{where}: expected an object, got {type(data).__name__}")
    unknown = sorted(set(data) - set(spec))
    if unknown:
        raise VariantError(f"{where}: unknown key(s) {', '.join(unknown)}")
    for key, kind in spec.items():
        if key not in data:
            raise VariantError(f"{where}: missing key {key!r}")
        if not isinstance(data[key], kind) or (kind is int and isinstance(data[key], bool)):
            raise VariantError(
                f"{where}: key {key!r} must be {kind.__name__}, got {type(data[key]).__name__}"
            )


def _check_flags(where: str, flags: dict[str, Any]) -> dict[str, bool | str]:
    for key, value in flags.items():
        if not isinstance(value, bool | str):
            raise VariantError(f"{where}: CMake flag {key!r} must be a bool or a string")
    return dict(flags)


def _variant(name: str, raw: Any) -> Variant:
    where = f"variant {name!r}"
    _check_keys(where, raw, _VARIANT_KEYS)
    if raw["linkMode"] not in _LINK_MODES:
        raise VariantError(
            f"{where}: linkMode must be one of {_LINK_MODES}, got {raw['linkMode']!r}"
        )
    for key in ("platforms", "providers", "patches"):
        if not all(isinstance(item, str) for item in raw[key]):
            raise VariantError(f"{where}: every entry of {key!r} must be a string")
    loaded = []
    for i, entry in enumerate(raw["runtimeLoaded"]):
        _check_keys(f"{where}: runtimeLoaded[{i}]", entry, _RUNTIME_LOADED_KEYS)
        loaded.append(RuntimeLoaded(entry["library"], entry["provider"], entry["loadedBy"]))
    return Variant(
        name=name,
        description=raw["description"],
        platforms=tuple(raw["platforms"]),
        link_mode=raw["linkMode"],
        providers=tuple(raw["providers"]),
        cmake_flags=_check_flags(f"{where}: cmakeFlags", raw["cmakeFlags"]),
        patches=tuple(raw["patches"]),
        runtime_loaded=tuple(loaded),
        experimental=raw["experimental"],
    )


def parse_matrix(data: Any, path: Path) -> Matrix:
    """Validate raw JSON data as a variant matrix."""
    _check_keys(str(path), data, _TOP_KEYS)
    _check_keys(f"{path}: ort", data["ort"], _ORT_KEYS)
    api_version_for(data["ort"]["version"])
    return Matrix(
        path=path,
        ort_version=data["ort"]["version"],
        ort_source=dict(data["ort"]),
        common_cmake_flags=_check_flags(f"{path}: commonCmakeFlags", data["commonCmakeFlags"]),
        variants={name: _variant(name, raw) for name, raw in data["variants"].items()},
    )


@lru_cache(maxsize=4)
def _load(path: Path) -> Matrix:
    try:
        data = read_json(path, VariantError)
    except OSError as exc:
        raise VariantError(f"cannot read the variant matrix {path}: {exc.strerror}") from None
    return parse_matrix(data, path)


def load_matrix(path: Path | None = None) -> Matrix:
    """Load and validate the variant matrix (cached per path)."""
    return _load((path or matrix_path()).resolve())

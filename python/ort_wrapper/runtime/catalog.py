"""Provider and soname facts from ``data/providers.json`` and ``data/sonames.json``."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = [
    "CPU_PROVIDER",
    "GenericAppend",
    "OptionsAppend",
    "ProviderSpec",
    "SonameSource",
    "gpu_providers",
    "known_sonames",
    "provider_spec",
    "provider_specs",
    "resolve_provider_name",
    "shared_bridge",
    "soname_source",
]

_DATA = Path(__file__).resolve().parent.parent / "data"

# The provider every ONNX Runtime has (data/providers.json lists it; a test keeps them agreeing).
CPU_PROVIDER = "CPUExecutionProvider"


@dataclass(frozen=True)
class OptionsAppend:
    """A provider the C API appends through its own options object: the C functions (names
    in ORT's API table) that make it, fill it with key/value pairs, free it, and append it."""

    create: str
    update: str
    release: str
    append: str


@dataclass(frozen=True)
class GenericAppend:
    """A provider the C API appends with ``SessionOptionsAppendExecutionProvider`` under
    ``name`` (ORT's spelling there: 'CoreML', 'XNNPACK', ...)."""

    name: str


@dataclass(frozen=True)
class ProviderSpec:
    """An execution provider: its name, aliases, the library ORT loads and the device kind."""

    name: str
    aliases: tuple[str, ...]
    library: str | None
    device: str | None
    built_for: Mapping[str, str] = field(default_factory=dict)  # component -> soname needed
    capi: OptionsAppend | GenericAppend | None = None  # how the C API backend appends it


@dataclass(frozen=True)
class SonameSource:
    """Where a soname comes from and the command that supplies it."""

    soname: str
    pypi: str | None = None
    range: str | None = None
    nix: str | None = None  # nixpkgs attribute
    system: str | None = None  # a note for host-only libraries
    flake: str | None = None  # the package of this flake that carries the library
    debian: str | None = None  # the Debian package (trixie non-free)

    @property
    def requirement(self) -> str | None:
        """The PyPI requirement, e.g. 'nvidia-cublas-cu12>=12,<13'; None when not on PyPI."""
        return f"{self.pypi}{self.range or ''}" if self.pypi else None

    @property
    def fix(self) -> str:
        """One concrete way to get the library."""
        if self.pypi:
            return f"pip install '{self.requirement}'"
        if self.system:
            return self.system
        if self.nix:
            return f"nix: add {self.nix}"
        return f"install the package that ships {self.soname}"

    @property
    def hints(self) -> tuple[str, ...]:
        """Every known way to get the library, one command or note each (PyPI first)."""
        out = [f"pip install '{self.requirement}'"] if self.pypi else []
        if self.flake:
            out.append(f"nix build .#{self.flake} (bundles it)")
        if self.nix:
            out.append(f"nixpkgs {self.nix}")
        if self.debian:
            out.append(f"apt install {self.debian} (Debian trixie)")
        if self.system:
            out.append(self.system)
        return tuple(out) or (self.fix,)


@lru_cache(maxsize=2)
def _load(name: str) -> Mapping[str, Any]:
    return json.loads((_DATA / name).read_text())


@lru_cache(maxsize=1)
def provider_specs() -> Mapping[str, ProviderSpec]:
    """Every known provider by its ONNX Runtime name."""
    raw = _load("providers.json")["providers"]
    return {
        name: ProviderSpec(
            name,
            tuple(e["aliases"]),
            e["library"],
            e["device"],
            dict(e.get("builtFor", {})),
            _capi(name, e.get("capi")),
        )
        for name, e in raw.items()
    }


def _capi(provider: str, entry: Any) -> OptionsAppend | GenericAppend | None:
    """A ``capi`` entry of providers.json as its typed record; ValueError naming the provider
    when it is neither form (the file ships with the package: a bad entry is this project's
    bug, which its tests catch)."""
    if entry is None:
        return None
    calls = entry.get("options") if isinstance(entry, dict) and len(entry) == 1 else None
    if isinstance(calls, dict) and set(calls) == {"create", "update", "release", "append"}:
        return OptionsAppend(**calls)
    name = entry.get("generic") if isinstance(entry, dict) and len(entry) == 1 else None
    if isinstance(name, str):
        return GenericAppend(name)
    raise ValueError(f"data/providers.json: {provider}: capi {entry!r} is neither form")


@lru_cache(maxsize=1)
def _aliases() -> Mapping[str, str]:
    table: dict[str, str] = {}
    for spec in provider_specs().values():
        table[spec.name.lower()] = spec.name
        table[spec.name.lower().removesuffix("executionprovider")] = spec.name
        for alias in spec.aliases:
            table[alias] = spec.name
    return table


def resolve_provider_name(name: str) -> str | None:
    """'cuda' or 'CUDAExecutionProvider' -> 'CUDAExecutionProvider'; None when unknown."""
    return _aliases().get(name.strip().lower())


def provider_spec(name: str) -> ProviderSpec | None:
    """The spec of a provider given by its ONNX Runtime name."""
    return provider_specs().get(name)


def gpu_providers(platform: str | None = None) -> tuple[str, ...]:
    """The platform's GPU providers, preferred first (TensorRT/CUDA on Linux, CoreML on macOS)."""
    key = "darwin" if (platform or sys.platform) == "darwin" else "linux"
    return tuple(_load("providers.json")["gpu"][key])


def shared_bridge() -> str:
    """The library every dlopened provider needs: libonnxruntime_providers_shared.so."""
    return _load("providers.json")["sharedBridge"]


def soname_source(soname: str) -> SonameSource:
    """Where ``soname`` comes from (an empty record when this project does not know)."""
    entry = _load("sonames.json")["libraries"].get(soname, {})
    return SonameSource(soname, **entry)


def known_sonames() -> tuple[str, ...]:
    """Every soname data/sonames.json knows."""
    return tuple(_load("sonames.json")["libraries"])

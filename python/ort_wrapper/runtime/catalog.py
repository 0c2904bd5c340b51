"""Provider and soname facts from ``data/providers.json`` and ``data/sonames.json``."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = [
    "ProviderSpec",
    "SonameSource",
    "gpu_providers",
    "provider_spec",
    "provider_specs",
    "resolve_provider_name",
    "shared_bridge",
    "soname_source",
]

_DATA = Path(__file__).resolve().parent.parent / "data"


@dataclass(frozen=True)
class ProviderSpec:
    """An execution provider: its name, aliases, the library ORT loads and the device kind."""

    name: str
    aliases: tuple[str, ...]
    library: str | None
    device: str | None


@dataclass(frozen=True)
class SonameSource:
    """Where a soname comes from and the command that supplies it."""

    soname: str
    pypi: str | None = None
    range: str | None = None
    nix: str | None = None
    system: str | None = None

    @property
    def fix(self) -> str:
        """One concrete way to get the library."""
        if self.pypi:
            return f"pip install '{self.pypi}{self.range or ''}'"
        if self.system:
            return self.system
        if self.nix:
            return f"nix: add {self.nix}"
        return f"install the package that ships {self.soname}"


@lru_cache(maxsize=2)
def _load(name: str) -> Mapping[str, Any]:
    return json.loads((_DATA / name).read_text())


@lru_cache(maxsize=1)
def provider_specs() -> Mapping[str, ProviderSpec]:
    """Every known provider by its ONNX Runtime name."""
    raw = _load("providers.json")["providers"]
    return {
        name: ProviderSpec(name, tuple(e["aliases"]), e["library"], e["device"])
        for name, e in raw.items()
    }


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
    """The platform's GPU providers in preference order (CUDA/TensorRT on Linux, CoreML on macOS)."""
    key = "darwin" if (platform or sys.platform) == "darwin" else "linux"
    return tuple(_load("providers.json")["gpu"][key])


def shared_bridge() -> str:
    """The library every dlopened provider needs: libonnxruntime_providers_shared.so."""
    return _load("providers.json")["sharedBridge"]


def soname_source(soname: str) -> SonameSource:
    """Where ``soname`` comes from (an empty record when this project does not know)."""
    entry = _load("sonames.json")["libraries"].get(soname, {})
    return SonameSource(soname, **entry)

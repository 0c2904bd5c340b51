"""What this process has already mapped (/proc/self/maps): one ONNX Runtime, one copy of each
CUDA library. Useful when :func:`ort_wrapper.doctor.diagnose` runs inside an application."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..runtime.catalog import known_sonames, provider_specs, shared_bridge
from ..runtime.procmaps import loaded_libraries
from .findings import Finding

__all__ = ["duplicate_libraries", "family", "process_findings", "watched_families"]

log = logging.getLogger(__name__)

_SECTION = "process"
_ORT = ("libonnxruntime", "onnxruntime_pybind11_state")


def family(path: Path | str) -> str:
    """A library's family: its file name up to the first dot (libcudart.so.12 -> libcudart)."""
    return Path(path).name.split(".", 1)[0]


@lru_cache(maxsize=1)
def watched_families() -> frozenset[str]:
    """ONNX Runtime's own libraries and every library data/sonames.json knows (CUDA, cuDNN,
    TensorRT, the driver)."""
    names = set(_ORT) | {family(shared_bridge())}
    names |= {family(spec.library) for spec in provider_specs().values() if spec.library}
    names |= {family(soname) for soname in known_sonames()}
    return frozenset(names)


def duplicate_libraries(paths: Iterable[Path]) -> Mapping[str, tuple[Path, ...]]:
    """Watched families mapped from more than one distinct file, e.g. two libcudart copies."""
    groups: dict[str, dict[Path, Path]] = {}
    for path in paths:
        name = family(path)
        if name in watched_families():
            groups.setdefault(name, {}).setdefault(path.resolve(), path)
    return {name: tuple(files.values()) for name, files in groups.items() if len(files) > 1}


def process_findings(
    paths: Sequence[Path] | None = None,
) -> tuple[list[Finding], dict[str, Any]]:
    """Findings about the libraries mapped in this process (or the given ``paths``)."""
    loaded = tuple(loaded_libraries() if paths is None else paths)
    ort = [p for p in loaded if family(p) in _ORT]
    watched = [str(p) for p in loaded if family(p) in watched_families()]
    findings = []
    duplicates = duplicate_libraries(loaded)
    for name, copies in duplicates.items():
        names = {p.name for p in copies}
        same = len(names) == 1
        severity = "error" if same or name in _ORT else "warning"
        findings.append(
            Finding(
                _SECTION,
                "process.duplicate",
                severity,
                f"{name} is mapped from {len(copies)} files: {', '.join(map(str, copies))}",
                "load one copy: init() before anything else imports onnxruntime or CUDA "
                "libraries, and keep one CUDA installation on the search path",
            )
        )
    if not ort:
        fact = "no ONNX Runtime library is loaded in this process"
        findings.append(Finding(_SECTION, "process.onnxruntime", "ok", fact))
    elif "libonnxruntime" not in duplicates and "onnxruntime_pybind11_state" not in duplicates:
        fact = f"one ONNX Runtime is loaded: {', '.join(map(str, ort))}"
        findings.append(Finding(_SECTION, "process.onnxruntime", "ok", fact))
    details = {
        "loaded": watched,
        "duplicates": {k: [str(p) for p in v] for k, v in duplicates.items()},
    }
    return findings, details

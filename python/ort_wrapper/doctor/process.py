"""What this process has already mapped (/proc/self/maps): one ONNX Runtime, one copy of each
CUDA library. Useful when :func:`ort_wrapper.doctor.diagnose` runs inside an application."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path

from ..report import FAIL, PASS, WARN, Check, Kind, Section
from ..runtime.catalog import known_sonames, provider_specs, shared_bridge
from ..runtime.procmaps import loaded_libraries

__all__ = ["duplicate_libraries", "family", "process_section", "watched_families"]

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


def process_section(paths: Sequence[Path] | None = None) -> Section:
    """The process section: the libraries mapped in this process (or the given ``paths``)."""
    loaded = tuple(loaded_libraries() if paths is None else paths)
    ort = [p for p in loaded if family(p) in _ORT]
    checks = []
    duplicates = duplicate_libraries(loaded)
    for name, copies in duplicates.items():
        same = len({p.name for p in copies}) == 1
        fact = f"{name} is mapped from {len(copies)} files: {', '.join(map(str, copies))}"
        fix = (
            "load one copy: init() before anything else imports onnxruntime or CUDA "
            "libraries, and keep one CUDA installation on the search path"
        )
        checks.append(
            Check(Kind.PROCESS_DUPLICATE, FAIL if same or name in _ORT else WARN, fact, fix=fix)
        )
    if not ort:
        fact = "no ONNX Runtime library is loaded in this process"
        checks.append(Check(Kind.PROCESS_ONNXRUNTIME, PASS, fact))
    elif not set(_ORT) & set(duplicates):
        fact = f"one ONNX Runtime is loaded: {', '.join(map(str, ort))}"
        checks.append(Check(Kind.PROCESS_ONNXRUNTIME, PASS, fact))
    data = {
        "loaded": [str(p) for p in loaded if family(p) in watched_families()],
        "duplicates": {k: [str(p) for p in v] for k, v in duplicates.items()},
    }
    return Section("process", tuple(checks), data=data)

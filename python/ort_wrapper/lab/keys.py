"""The lab's three cache keys, each a hash of everything one stage's output depends on:
the patched source (``source_key``), the build tree (``build_key``) and the finalized
distribution (``result_key``)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..finalize.stage import finalize
from ..matrix import Matrix, Variant
from ..operators import OperatorConfig
from . import source_patches
from .chroot import PACKAGES
from .import_closure import module_closure
from .source import OrtSource

__all__ = ["build_key", "result_key", "source_key"]

_LAB_PKG = Path(__file__).resolve().parent


def _digest_files(digest: Any, files: list[Path], base: Path) -> None:
    for path in files:
        digest.update(str(path.relative_to(base)).encode())
        digest.update(path.read_bytes())


def _tree(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def _json(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, default=str).encode()


def source_key(source: OrtSource, series: tuple[Path, ...]) -> str:
    """What /lab/src depends on: the tarball's pin, the series and the code applying it (not
    the CMake flags or an operator config, so a full and a reduced build share one source)."""
    digest = hashlib.sha256(source.sha256.encode())
    _digest_files(digest, list(series), series[0].parent if series else Path())
    digest.update(Path(source_patches.__file__).read_bytes())
    return digest.hexdigest()[:16]


def build_key(
    matrix: Matrix,
    variant: Variant,
    source: OrtSource,
    patches: tuple[Path, ...],
    operators: OperatorConfig | None = None,
) -> str:
    """A hash of every input of the CMake build: the whole variant row (every field, so a
    field added later counts too), the common flags, this source's pin, the chroot's
    packages, the patches' names and bytes, the operator config of a reduced build, and the
    lab's code (which holds its native flags and shims)."""
    digest = hashlib.sha256()
    spec = {
        "variant": dataclasses.asdict(variant),
        "commonFlags": dict(matrix.common_cmake_flags),
        "source": dataclasses.asdict(source),
        "packages": list(PACKAGES),
        "operators": operators.text() if operators else None,
    }
    digest.update(_json(spec))
    _digest_files(digest, list(patches), patches[0].parent if patches else Path())
    _digest_files(digest, _tree(_LAB_PKG), _LAB_PKG)
    return digest.hexdigest()[:16]


def result_key(build: str, finalize_args: Mapping[str, Any]) -> str:
    """``build`` plus every argument ``finalize`` is called with (``prune`` ...) and the
    code finalize imports (``module_closure``). (The patch statuses finalize records follow
    from the build's inputs.)"""
    digest = hashlib.sha256(build.encode())
    digest.update(_json(dict(finalize_args)))
    _digest_files(digest, module_closure(finalize.__module__), _LAB_PKG.parent)
    return digest.hexdigest()[:16]

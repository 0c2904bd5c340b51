"""Shared fixtures: small models written to a temporary directory; the native lab's result
(lab tier)."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import models
from helpers import LAB_VERSION, REPO, skip_loudly

if TYPE_CHECKING:
    from ort_wrapper.lab.pipeline import LabResult


@pytest.fixture
def add_model_path(tmp_path: Path) -> Path:
    """A float32 Add model (inputs X, Y of shape [2, 3]; output Z)."""
    return models.save(models.add_model(), tmp_path / "add.onnx")


@pytest.fixture
def mlp_model_path(tmp_path: Path) -> Path:
    """A one-input MatMul+Add+Relu model (input X [batch, 64]; output Y)."""
    return models.save(models.matmul_model(), tmp_path / "mlp.onnx")


def _make_wheel_prefix(root: Path, version: str | None = None) -> Path:
    """Copy the installed onnxruntime package into ``root/python`` and describe it with a manifest
    (the shape of a bundle, made by hand). ``version`` overrides the declared ORT version."""
    import shutil

    import onnxruntime

    from ort_wrapper.files import sha256_file
    from ort_wrapper.manifest import FileEntry, Manifest

    package = Path(onnxruntime.__file__).parent
    shutil.copytree(
        package, root / "python" / "onnxruntime", ignore=shutil.ignore_patterns("__pycache__")
    )
    libs = sorted((root / "python" / "onnxruntime" / "capi").glob("*.so*"))
    Manifest(
        version=version or onnxruntime.__version__,
        variant="pypi-cpu",
        link_mode="shared",
        providers=tuple(onnxruntime.get_available_providers()),
        files=tuple(FileEntry(str(p.relative_to(root)), "shared", sha256_file(p)) for p in libs),
        python_path="python",
    ).write(root)
    return root


@pytest.fixture
def wheel_prefix(tmp_path: Path) -> Path:
    """A prefix distribution (manifest + python/onnxruntime) copied from the installed wheel."""
    return _make_wheel_prefix(tmp_path / "dist")


@pytest.fixture
def make_wheel_prefix():
    """Factory form of ``wheel_prefix``: make_wheel_prefix(root, version=None)."""
    return _make_wheel_prefix


def _lab_build(build: Callable[..., Any]) -> Any:
    """``build(matrix, "cpu", source, patches, jobs=..., prune=True)`` for ``LAB_VERSION``,
    skipped loudly where the lab cannot run (not root, no debootstrap, no mirror)."""
    from ort_wrapper.errors import LabEnvironmentError
    from ort_wrapper.lab.source import known_source
    from ort_wrapper.matrix import load_matrix

    if os.geteuid() != 0:
        skip_loudly("the lab needs root (debootstrap, chroot, mounts)")
    if shutil.which("debootstrap") is None:
        skip_loudly("debootstrap is not installed (tools/setup.sh installs it)")
    try:
        where = (load_matrix(), "cpu", known_source(LAB_VERSION), REPO / "patches")
        return build(*where, jobs=os.cpu_count() or 1, prune=True)
    except LabEnvironmentError as exc:
        skip_loudly(str(exc))
        raise  # unreachable: skip raises


@pytest.fixture(scope="module")
def lab() -> LabResult:
    """ORT ``LAB_VERSION`` cpu-static built in the trixie chroot and finalized (lab tier;
    cached by input, so every module after the first gets it at once)."""
    from ort_wrapper.lab.pipeline import run_lab

    return _lab_build(run_lab)


@pytest.fixture(scope="module")
def reduced_lab() -> tuple[LabResult, LabResult]:
    """The ``lab`` build and the one reduced for two real models from PyPI: PP-OCRv4's text
    detector (convolutional) and Silero VAD (recurrent, with an If)."""
    from ort_wrapper.lab.pipeline import reduced_for_models

    from support.pypi_models import ocr_detector, silero_vad

    models = [ocr_detector(), silero_vad()]
    return _lab_build(lambda *where, **kw: reduced_for_models(*where, models, **kw))

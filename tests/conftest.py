"""Shared fixtures: small models written to a temporary directory; the ``ort-wrapper`` command
in this process; the native lab's result (lab tier)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import models
from helpers import LAB_VERSION, REPO, skip_loudly
from support.prefixes import make_prefix

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


@pytest.fixture
def run_cli(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``run_cli(*args)``: ``ort-wrapper ARGS`` in this process (``ort_wrapper.cli.main``), its
    exit code (argparse's SystemExit included) and what it wrote to file descriptors 1 and 2
    (so the children it starts, check's worker among them, are heard too), in the shape
    ``helpers.cli`` gives for a child; no ORT_WRAPPER*/ORT_LIB* variable set, as a child
    started by ``helpers.cli`` has none. For what no process boundary is needed to show."""
    from ort_wrapper.cli import main

    for name in [k for k in os.environ if k.startswith(("ORT_WRAPPER", "ORT_LIB"))]:
        monkeypatch.delenv(name)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        capfd.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        out, err = capfd.readouterr()
        return subprocess.CompletedProcess(["ort-wrapper", *args], code, out, err)

    return run


def _make_wheel_prefix(root: Path, version: str | None = None) -> Path:
    """A copy of the installed onnxruntime package in ``root/python`` described by a manifest
    (the shape of a bundle, made by hand). ``version`` overrides the declared ORT version."""
    return make_prefix(root, wheel="python", **({"version": version} if version else {}))


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

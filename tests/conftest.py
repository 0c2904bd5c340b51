"""Shared fixtures: small models written to a temporary directory."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import models


@pytest.fixture
def add_model_path(tmp_path: Path) -> Path:
    """A float32 Add model (inputs X, Y of shape [2, 3]; output Z)."""
    return models.save(models.add_model(), tmp_path / "add.onnx")


@pytest.fixture
def mlp_model_path(tmp_path: Path) -> Path:
    """A one-input MatMul+Add+Relu model (input X [batch, 64]; output Y)."""
    return models.save(models.matmul_model(), tmp_path / "mlp.onnx")

"""ort_wrapper: load, run, package and validate ONNX Runtime 1.23.2 distributions.

``ort_wrapper.ort`` is the ``onnxruntime`` module of the initialised distribution and
``ort_wrapper.np`` is ``numpy``, so downstream code depends on ``ort-wrapper`` alone. Both are
resolved on first access: importing ort_wrapper loads neither, so ``init()`` can still choose and
preload a distribution first.
"""

from __future__ import annotations

from typing import Any

from .errors import (
    InitError,
    InputError,
    ModelLoadError,
    OrtApiError,
    OrtWrapperError,
    ProviderUnavailableError,
)
from .runtime.distribution import DistributionKind
from .runtime.infer import infer
from .runtime.loader import Backend, RuntimeInfo, init
from .runtime.session import Fallback, Session, SessionBuilder, TensorInfo

__all__ = [
    "Backend",
    "DistributionKind",
    "Fallback",
    "InitError",
    "InputError",
    "ModelLoadError",
    "OrtApiError",
    "OrtWrapperError",
    "ProviderUnavailableError",
    "RuntimeInfo",
    "Session",
    "SessionBuilder",
    "TensorInfo",
    "__version__",
    "infer",
    "init",
    "np",
    "ort",
]

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "ort":
        from .runtime.loader import onnxruntime_module

        return onnxruntime_module()
    if name == "np":
        import numpy

        return numpy
    raise AttributeError(f"module 'ort_wrapper' has no attribute {name!r}")

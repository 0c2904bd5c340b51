"""The harness's own small models, built with onnx.helper at run time, and synthetic inputs.

Built here rather than shipped as files so that they always match the installed onnx; the
models declare IR version 10 and opset 17, which every ONNX Runtime since 1.16 reads.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import InputError

__all__ = ["BuiltinModel", "builtin_models", "onnx_problem", "synthetic_feeds"]

log = logging.getLogger(__name__)

IR_VERSION = 10
OPSET = 17


@dataclass(frozen=True)
class BuiltinModel:
    """A model the harness builds itself."""

    name: str
    data: bytes
    purpose: str


def onnx_problem() -> str | None:
    """Why the onnx package cannot be used (None when it can)."""
    try:
        import onnx  # noqa: F401
    except ImportError as exc:
        return f"the onnx package is not importable ({exc}): pip install 'ort-wrapper[check]'"
    return None


def _finish(graph: Any) -> bytes:
    import onnx
    from onnx import helper

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model.SerializeToString()


def mlp_model(n: int = 128, layers: int = 3, seed: int = 0) -> bytes:
    """``layers`` of relu(X @ W + B) then Softmax, fixed random weights: GEMMs and reductions."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    nodes, inits, prev = [], [], "X"
    for i in range(layers):
        w = (rng.standard_normal((n, n)) / np.sqrt(n)).astype(np.float32)
        inits += [
            numpy_helper.from_array(w, f"W{i}"),
            numpy_helper.from_array(rng.standard_normal(n).astype(np.float32), f"B{i}"),
        ]
        nodes += [
            helper.make_node("MatMul", [prev, f"W{i}"], [f"M{i}"]),
            helper.make_node("Add", [f"M{i}", f"B{i}"], [f"A{i}"]),
            helper.make_node("Relu", [f"A{i}"], [f"R{i}"]),
        ]
        prev = f"R{i}"
    nodes.append(helper.make_node("Softmax", [prev], ["Y"], axis=-1))
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, ["batch", n])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["batch", n])
    return _finish(helper.make_graph(nodes, "mlp", [x], [y], initializer=inits))


def conv_model(channels: int = 16, seed: int = 1) -> bytes:
    """Conv 3x3 + ReduceMean over a 1x8x32x32 image: the kernels threads split differently."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    w = rng.standard_normal((channels, 8, 3, 3)).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["X", "W"], ["C"], pads=[1, 1, 1, 1]),
        helper.make_node("ReduceMean", ["C"], ["Y"], axes=[2, 3], keepdims=0),
    ]
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 8, 32, 32])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, channels])
    return _finish(
        helper.make_graph(nodes, "conv", [x], [y], initializer=[numpy_helper.from_array(w, "W")])
    )


def builtin_models() -> tuple[BuiltinModel, ...]:
    """The models determinism and stability run by default (needs onnx)."""
    return (
        BuiltinModel("builtin:mlp", mlp_model(), "3 x (MatMul+Add+Relu) + Softmax, 128 wide"),
        BuiltinModel("builtin:conv", conv_model(), "Conv 3x3 + ReduceMean, 8->16 channels"),
    )


def _dim(info: Any, axis: int, dim: Any, dims: Mapping[str, int], batch: int) -> int:
    """A fixed dimension as declared; a free one from ``dims`` (by symbolic name, or
    'INPUT[AXIS]'), else ``batch``."""
    if isinstance(dim, int) and dim >= 0:
        return dim
    by_axis = dims.get(f"{info.name}[{axis}]")
    if by_axis is not None:
        return by_axis
    return dims.get(dim, batch) if isinstance(dim, str) else batch


def synthetic_feeds(
    inputs: Sequence[Any], seed: int = 0, batch: int = 8, dims: Mapping[str, int] | None = None
) -> dict[str, Any]:
    """Deterministic random feeds for a session's inputs (TensorInfo); free dimensions from
    ``dims`` (see ``_dim``), else ``batch``. InputError for types numpy cannot hold."""
    import numpy as np

    rng = np.random.default_rng(seed)
    feeds = {}
    for info in inputs:
        if info.dtype is None:
            raise InputError(f"cannot make inputs for {info.describe()}: unsupported type")
        shape = tuple(_dim(info, i, d, dims or {}, batch) for i, d in enumerate(info.shape))
        kind = info.dtype.kind
        if kind in "fc":  # complex: real parts only
            feeds[info.name] = rng.standard_normal(shape).astype(info.dtype)
        elif kind in "iu":
            feeds[info.name] = rng.integers(0, 4, size=shape).astype(info.dtype)
        elif kind == "b":
            feeds[info.name] = rng.integers(0, 2, size=shape).astype(bool)
        else:
            feeds[info.name] = np.full(shape, "a", dtype=object)
    return feeds

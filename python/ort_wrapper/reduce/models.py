"""The operators a model file uses: every node of its graph, of the graphs inside its nodes
(If, Loop, Scan) and of its local functions, each with the model's opset for its domain."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..files import sha256_file
from ..operators import ONNX_DOMAIN, ModelRecord, Operator

__all__ = ["model_operators", "operators_of"]


def _domain(name: str) -> str:
    return name or ONNX_DOMAIN


def _opsets(imports: Any) -> dict[str, int]:
    return {_domain(i.domain): int(i.version) for i in imports}


def _subgraphs(node: Any) -> Iterator[Any]:
    for attribute in node.attribute:
        if attribute.HasField("g"):
            yield attribute.g
        yield from attribute.graphs


def _nodes(graph: Any) -> Iterator[Any]:
    """The nodes of a graph or function, and of the graphs inside them."""
    for node in graph.node:
        yield node
        for sub in _subgraphs(node):
            yield from _nodes(sub)


def _operators(
    nodes: Iterator[Any], opsets: Mapping[str, int], local: set[tuple[str, str]], where: str
) -> set[Operator]:
    found = set()
    for node in nodes:
        domain = _domain(node.domain)
        if (domain, node.op_type) in local:  # a call of a local function: ORT inlines it
            continue
        if domain not in opsets:
            raise InputError(f"{where}: node {node.op_type} uses domain {domain!r}, not imported")
        found.add(Operator(domain, opsets[domain], node.op_type))
    return found


def _load(source: Path | bytes, where: str) -> Any:
    """A model from a file or from its bytes; InputError naming ``where`` when it is not one."""
    try:
        import onnx
        from google.protobuf.message import DecodeError
    except ImportError as exc:
        raise InputError(
            f"reading a model needs onnx ({exc}): pip install 'ort-wrapper[check]'"
        ) from None

    try:
        if isinstance(source, bytes):
            return onnx.load_from_string(source)
        return onnx.load(str(source), load_external_data=False)
    except (DecodeError, ValueError, RuntimeError, OSError) as exc:
        raise InputError(f"{where}: not an ONNX model ({exc})") from None


def operators_of(source: Path | bytes, where: str) -> set[Operator]:
    """The operators of a model file or a model's bytes; ``where`` names it in errors."""
    model = _load(source, where)
    local = {(_domain(f.domain), f.name) for f in model.functions}
    opsets = _opsets(model.opset_import)
    operators = _operators(_nodes(model.graph), opsets, local, where)
    for function in model.functions:
        inner = {**opsets, **_opsets(function.opset_import)}
        operators |= _operators(_nodes(function), inner, local, f"{where}: {function.name}")
    return operators


def model_operators(path: Path) -> tuple[ModelRecord, set[Operator]]:
    """The model's record (file name, sha256) and the operators its nodes use."""
    if not path.is_file():
        raise InputError(f"{path}: no such model file")
    used = operators_of(path, str(path))
    if not used:
        raise InputError(f"{path}: the model has no nodes (is it an ONNX model?)")
    return ModelRecord(path.name, sha256_file(path)), used

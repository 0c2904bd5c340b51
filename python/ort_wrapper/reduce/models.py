"""The operators a model file uses: every node of its graph, of the graphs inside its nodes
(If, Loop, Scan) and of its local functions, each with the model's opset for its domain.

A node calls a model-local function only where ONNX Runtime would: never in the ONNX domain (ORT
1.23 runs the standard operator, and refuses a name it has no schema for), and in another domain
only when no schema of that name is registered at the model's opset; otherwise the standard
operator is what runs, and what a reduced build must keep."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..files import sha256_file
from ..operators import ONNX_DOMAIN, ModelRecord, Operator
from ..untrusted import MODEL_LIMIT, read_bounded

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


def _calls_local(domain: str, op_type: str, version: int | None) -> bool:
    """Whether ONNX Runtime runs the model-local function (domain, op_type) for a node, rather
    than a registered operator (checked against ORT 1.23.2 by tests/unit/reduce). The schemas
    known here are onnx's (ai.onnx.ml, training); ORT's own contrib domains are not."""
    if domain in (ONNX_DOMAIN, "ai.onnx"):
        return False
    from onnx import defs

    return version is None or not defs.has(op_type, version, domain)


def _operator(node: Any, opsets: Mapping[str, int], where: str) -> Operator:
    domain = _domain(node.domain)
    if domain not in opsets:
        raise InputError(f"{where}: node {node.op_type} uses domain {domain!r}, not imported")
    return Operator(domain, opsets[domain], node.op_type)


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
        data = (
            source if isinstance(source, bytes) else read_bounded(source, InputError, MODEL_LIMIT)
        )
        return onnx.load_from_string(data)
    except FileNotFoundError:
        raise InputError(f"{where}: no such model file") from None
    except (DecodeError, ValueError, RuntimeError, OSError) as exc:
        raise InputError(f"{where}: not an ONNX model ({exc})") from None


def operators_of(source: Path | bytes, where: str) -> set[Operator]:
    """The operators ONNX Runtime runs for a model file or a model's bytes: a call of a local
    function counts by its body (ORT inlines it), a function never called not at all; ``where``
    names the model in errors."""
    model = _load(source, where)
    functions = {(_domain(f.domain), f.name): f for f in model.functions}
    opsets = _opsets(model.opset_import)
    pending, called, operators = [(model.graph, opsets, where)], set(), set()
    while pending:
        body, scope, label = pending.pop()
        for node in _nodes(body):
            key = (_domain(node.domain), node.op_type)
            if key not in functions or not _calls_local(*key, scope.get(key[0])):
                operators.add(_operator(node, scope, label))
            elif key not in called:
                called.add(key)
                function = functions[key]
                inner = {**opsets, **_opsets(function.opset_import)}
                pending.append((function, inner, f"{where}: {function.name}"))
    return operators


def model_operators(path: Path) -> tuple[ModelRecord, set[Operator]]:
    """The model's record (file name, sha256) and the operators its nodes use."""
    if not path.is_file():
        raise InputError(f"{path}: no such model file")
    used = operators_of(path, str(path))
    if not used:
        raise InputError(f"{path}: the model has no nodes (is it an ONNX model?)")
    return ModelRecord(path.name, sha256_file(path)), used

"""ONNX Runtime's required-operators config (``domain;opset;Op1,Op2``): the kernels a reduced
build registers, and the models it was made from (``# model SHA256 NAME`` comment lines)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InputError
from .escape import ort_config_comment
from .untrusted import read_bounded

__all__ = ["ModelRecord", "Operator", "OperatorConfig", "parse_config", "read_config"]

ONNX_DOMAIN = "ai.onnx"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_DOMAIN = re.compile(r"^[A-Za-z0-9_.]+$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_MODEL_LINE = "# model "
_MAX_OPSET = 10_000


@dataclass(frozen=True, order=True)
class Operator:
    """One operator as a node of a model uses it: its domain, the model's opset for that
    domain, and its type."""

    domain: str
    opset: int
    name: str

    def __str__(self) -> str:
        return f"{self.domain}:{self.name}({self.opset})"


@dataclass(frozen=True, order=True)
class ModelRecord:
    """A model a config was made from, by file name and content hash."""

    name: str
    sha256: str


def _check_operator(op: Operator, where: str) -> None:
    if not _DOMAIN.match(op.domain) or not _NAME.match(op.name):
        raise InputError(f"{where}: {op.domain!r}/{op.name!r} is not an operator name")
    if not 1 <= op.opset <= _MAX_OPSET:
        raise InputError(f"{where}: opset {op.opset} of {op.name} is out of range")


@dataclass(frozen=True)
class OperatorConfig:
    """The operators a reduced build keeps and the models they came from."""

    operators: frozenset[Operator]
    models: tuple[ModelRecord, ...] = ()

    @classmethod
    def of(
        cls,
        operators: Iterable[Operator],
        models: Iterable[ModelRecord] = (),
        where: str = "operator config",
    ) -> OperatorConfig:
        """A config of these operators and models (validated, sorted; ``where`` names the
        source in errors)."""
        ops = frozenset(operators)
        records = tuple(sorted(set(models)))
        for record in records:
            ort_config_comment(record.name, f"{where}: the model file name")
        for op in ops:
            _check_operator(op, where)
        if not ops:
            raise InputError(f"{where}: no operators (a build with no kernels runs nothing)")
        return cls(ops, records)

    def text(self) -> str:
        """The config as ONNX Runtime's ``reduce_op_kernels.py`` reads it."""
        groups: dict[tuple[str, int], list[str]] = {}
        for op in sorted(self.operators):
            groups.setdefault((op.domain, op.opset), []).append(op.name)
        lines = [
            f"{_MODEL_LINE}{m.sha256} {ort_config_comment(m.name, 'the model file name')}"
            for m in self.models
        ]
        lines += [f"{d};{o};{','.join(names)}" for (d, o), names in sorted(groups.items())]
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        return self.text()

    def sha256(self) -> str:
        """The hash of :meth:`text` (what a cache key records)."""
        return hashlib.sha256(self.text().encode()).hexdigest()

    def to_json(self) -> dict[str, Any]:
        """The manifest's form."""
        return {
            "operators": [[o.domain, o.opset, o.name] for o in sorted(self.operators)],
            "models": [{"name": m.name, "sha256": m.sha256} for m in self.models],
        }

    @classmethod
    def from_json(cls, data: Any, where: str) -> OperatorConfig:
        """Read :meth:`to_json`'s form back; InputError naming ``where`` when it is not."""
        if not isinstance(data, Mapping):
            raise InputError(f"{where}: expected an object with operators and models")
        ops, models = data.get("operators"), data.get("models", [])
        if not isinstance(ops, list) or not isinstance(models, list):
            raise InputError(f"{where}: operators and models must be lists")
        try:
            operators = [Operator(str(d), _int(o), str(n)) for d, o, n in ops]
            records = [ModelRecord(str(m["name"]), _sha(m["sha256"], where)) for m in models]
        except (TypeError, ValueError, KeyError) as exc:
            raise InputError(f"{where}: malformed entry ({exc})") from None
        return cls.of(operators, records, where)


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"opset {value!r} is not an integer")
    return value


def _sha(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _SHA256.match(value):
        raise InputError(f"{where}: {value!r} is not a sha256")
    return value


def _model_line(line: str, where: str) -> ModelRecord:
    sha, _, name = line[len(_MODEL_LINE) :].partition(" ")
    return ModelRecord(name.strip(), _sha(sha, where))


def _operator_line(line: str, where: str) -> list[Operator]:
    parts = [p.strip() for p in line.split(";")]
    if len(parts) != 3 or "{" in parts[2]:
        raise InputError(f"{where}: expected 'domain;opset[,opset];Op1,Op2', got {line[:80]!r}")
    domain, opsets, names = parts
    try:
        versions = [int(v) for v in opsets.split(",")]
    except ValueError:
        raise InputError(f"{where}: {opsets!r} is not a list of opsets") from None
    ops = [Operator(domain, v, n.strip()) for v in versions for n in names.split(",") if n.strip()]
    for op in ops:
        _check_operator(op, where)
    return ops


def _lines(text: str) -> list[str]:
    """The lines of ``text`` as ONNX Runtime's reader (Python's text mode) sees them: broken at
    ``\n``, ``\r\n`` and ``\r`` only (``str.splitlines`` also breaks at U+2028 and others)."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def parse_config(text: str, where: str) -> OperatorConfig:
    """Read a config written by :meth:`OperatorConfig.text` or by hand (ORT's format without
    per-type reduction; ``!`` directives are refused: this project does not apply them)."""
    operators: list[Operator] = []
    models: list[ModelRecord] = []
    for number, raw in enumerate(_lines(text), 1):
        line, here = raw.strip(), f"{where}, line {number}"
        if line.startswith(_MODEL_LINE):
            models.append(_model_line(line, here))
        elif line.startswith("!"):
            raise InputError(f"{here}: {line[:60]!r}: type reduction directives are not supported")
        elif line and not line.startswith("#"):
            operators += _operator_line(line, here)
    return OperatorConfig.of(operators, models, where)


def read_config(path: Path) -> OperatorConfig:
    """The config in the file ``path`` (InputError naming it when missing or not a config)."""
    try:
        data = read_bounded(path, InputError)
    except FileNotFoundError:
        raise InputError(f"{path}: no such operator config file") from None
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file (expected an operator config)") from None
    return parse_config(text, str(path))

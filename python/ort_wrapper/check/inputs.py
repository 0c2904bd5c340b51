"""A model's inputs for the harness: the user's real ones, or synthetic ones as the fallback.

Real inputs come from ``--input NAME=FILE.npy``, a directory of ``NAME.npy`` files, or the ONNX
test-data layout model zoos ship (``test_data_set_N/input_K.pb`` with ``output_K.pb`` as the
reference outputs); a model whose folder holds only it and ``test_data_set_*`` folders uses
those by itself. Without any, inputs are synthetic (seeded; symbolic dimensions from ``--dim``,
else 8), and a run that ONNX Runtime rejects says so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from ..errors import InputError

__all__ = [
    "DataSet",
    "InputKind",
    "ModelInputs",
    "ModelSpec",
    "find_models",
    "first_run",
    "load_npy",
    "read_pb",
    "resolve_inputs",
    "test_data_sets",
]

_SET = re.compile(r"test_data_set_(\d+)$")
_PB = re.compile(r"(input|output)_(\d+)\.pb$")


class InputKind(Enum):
    """Where a model's inputs came from."""

    REAL = "real"
    SYNTHETIC = "synthetic"


@dataclass(frozen=True)
class ModelSpec:
    """A model and what the user gave for it (paths only: read in the worker)."""

    path: Path
    inputs: tuple[tuple[str, Path], ...] = ()  # --input NAME=FILE.npy
    input_dirs: tuple[Path, ...] = ()  # --input DIR
    expected: tuple[tuple[str, Path], ...] = ()  # --expected NAME=FILE.npy
    dims: tuple[tuple[str, int], ...] = ()  # --dim NAME=SIZE

    def to_json(self) -> dict[str, Any]:
        """The JSON form handed to the worker."""
        return {
            "path": str(self.path),
            "inputs": [[n, str(p)] for n, p in self.inputs],
            "inputDirs": [str(p) for p in self.input_dirs],
            "expected": [[n, str(p)] for n, p in self.expected],
            "dims": [[n, s] for n, s in self.dims],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModelSpec:
        """Rebuild a spec from its JSON form."""
        return cls(
            Path(data["path"]),
            tuple((n, Path(p)) for n, p in data["inputs"]),
            tuple(Path(p) for p in data["inputDirs"]),
            tuple((n, Path(p)) for n, p in data["expected"]),
            tuple((n, int(s)) for n, s in data["dims"]),
        )


@dataclass(frozen=True)
class DataSet:
    """One set of feeds, and the reference outputs by name (empty when there are none)."""

    name: str
    feeds: Mapping[str, Any]
    expected: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelInputs:
    """The data sets a model runs on and where they came from."""

    kind: InputKind
    sets: tuple[DataSet, ...]
    source: str  # "--input", "test_data_set_0, test_data_set_1", "seeded random, ..."

    @property
    def feeds(self) -> Mapping[str, Any]:
        """The first data set's feeds: what determinism and stability run."""
        return self.sets[0].feeds

    def describe(self) -> str:
        """'real (test_data_set_0)' or 'synthetic (seeded random, ...)'."""
        return f"{self.kind.value} ({self.source})"


def load_npy(path: Path, what: str) -> Any:
    """A .npy array (never a pickle); InputError naming ``what`` and the file otherwise."""
    import numpy as np

    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise InputError(f"{what}: {path}: no such file") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{what}: {path} is not a .npy array file ({exc})") from None


def _kinds() -> dict[str, tuple[Any, Any]]:
    import onnx
    from onnx import numpy_helper

    return {
        "tensor": (onnx.TensorProto, numpy_helper.to_array),
        "seq": (onnx.SequenceProto, numpy_helper.to_list),
        "map": (onnx.MapProto, numpy_helper.to_dict),
        "optional": (onnx.OptionalProto, numpy_helper.to_optional),
    }


def _read_named(path: Path, onnx_type: str) -> tuple[str, Any]:
    """The proto's recorded name and its value as numpy values."""
    kinds = _kinds()
    proto_type, convert = kinds.get(onnx_type.split("(")[0], kinds["tensor"])
    proto = proto_type()
    try:
        proto.ParseFromString(path.read_bytes())
        return proto.name, convert(proto)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except Exception as exc:  # protobuf's DecodeError, onnx's conversion errors
        raise InputError(f"{path} is not a serialised {proto_type.__name__} ({exc})") from None


def read_pb(path: Path, onnx_type: str) -> Any:
    """A serialised TensorProto, SequenceProto, MapProto or OptionalProto, chosen by the value's
    ONNX type ('tensor(float)', 'seq(...)', 'map(...)', 'optional(...)'), as numpy values."""
    return _read_named(path, onnx_type)[1]


def _numbered(directory: Path, pattern: re.Pattern[str], group: int) -> list[Path]:
    found = [(int(m.group(group)), p) for p in directory.iterdir() if (m := pattern.match(p.name))]
    return [p for _, p in sorted(found)]


def test_data_sets(directory: Path) -> list[Path]:
    """The ``test_data_set_N`` folders under ``directory``, in numeric order."""
    return [p for p in _numbered(directory, _SET, 1) if p.is_dir()]


def _by_position(paths: list[Path], infos: tuple[Any, ...], what: str) -> dict[str, Any]:
    """``input_K.pb`` is the K-th model input, unless the proto's own name is another input's
    (old models list initializers among the graph's inputs, so positions can shift)."""
    values: dict[str, Any] = {}
    by_name = {i.name: i for i in infos}
    for path in paths:
        k = int(_PB.match(path.name).group(2))  # type: ignore[union-attr]
        if k >= len(infos):
            raise InputError(f"{path}: the model has only {len(infos)} {what}(s)")
        name, value = _read_named(path, infos[k].type)
        values[name if name in by_name else infos[k].name] = value
    return values


def _data_set(directory: Path, session: Any) -> DataSet:
    files = _numbered(directory, _PB, 2)
    ins = [p for p in files if p.name.startswith("input_")]
    outs = [p for p in files if p.name.startswith("output_")]
    if not ins:
        raise InputError(f"{directory} holds no input_K.pb file")
    return DataSet(
        directory.name,
        _by_position(ins, session.inputs, "input"),
        _by_position(outs, session.outputs, "output"),
    )


def _given(spec: ModelSpec, npy_dirs: list[Path]) -> DataSet | None:
    """The ``--input`` arrays (pairs and directories of NAME.npy) with ``--expected``."""
    feeds: dict[str, Any] = {}
    pairs = list(spec.inputs)
    for directory in npy_dirs:
        pairs += [(p.stem, p) for p in sorted(directory.glob("*.npy"))]
    for name, path in pairs:
        if name in feeds:
            raise InputError(f"input {name!r} is given twice")
        feeds[name] = load_npy(path, f"input {name!r}")
    expected = {n: load_npy(p, f"expected output {n!r}") for n, p in spec.expected}
    if expected and not feeds:
        raise InputError("--expected needs the inputs those outputs came from (--input)")
    return DataSet("--input", feeds, expected) if feeds else None


def _real_sets(spec: ModelSpec, session: Any) -> list[DataSet]:
    sets, npy_dirs = [], []
    for directory in spec.input_dirs:
        if not directory.is_dir():
            raise InputError(f"--input {directory}: not a directory (or NAME=FILE.npy)")
        if (directory / "input_0.pb").exists():
            sets.append(_data_set(directory, session))
        elif found := test_data_sets(directory):
            sets += [_data_set(d, session) for d in found]
        else:
            npy_dirs.append(directory)
    given = _given(spec, npy_dirs)
    if given is not None:
        sets.insert(0, given)
    elif npy_dirs:
        raise InputError(f"{npy_dirs[0]} holds no NAME.npy, input_K.pb or test_data_set_N")
    return sets


def _beside(model: Path) -> list[Path]:
    """The model zoo layout: ``test_data_set_N`` folders beside the only model of a folder."""
    folder = model.parent
    if len(list(folder.glob("*.onnx"))) != 1:
        return []
    return test_data_sets(folder)


def resolve_inputs(spec: ModelSpec | None, session: Any) -> ModelInputs:
    """What ``session`` runs on: the real inputs of ``spec``, else its test-data sets, else
    synthetic ones. InputError when a given file cannot be read."""
    from .models import synthetic_feeds

    dims: dict[str, int] = {}
    if spec is not None:
        sets = _real_sets(spec, session)
        if not sets and (found := _beside(spec.path)):
            sets = [_data_set(d, session) for d in found]
        if sets:
            return ModelInputs(InputKind.REAL, tuple(sets), ", ".join(s.name for s in sets))
        dims = dict(spec.dims)
    try:
        feeds = synthetic_feeds(session.inputs, dims=dims)
    except InputError as exc:
        raise InputError(f"{exc}; give the model's real inputs with --input") from None
    shapes = "; ".join(f"{n} {list(getattr(v, 'shape', ()))}" for n, v in feeds.items())
    return ModelInputs(InputKind.SYNTHETIC, (DataSet("synthetic", feeds),), shapes)


def first_run(session: Any, inputs: ModelInputs) -> dict[str, Any]:
    """Run the first data set once; a synthetic input ONNX Runtime rejects is an InputError
    that says so and how to give real ones."""
    try:
        return session.run(dict(inputs.feeds))
    except Exception as exc:
        if inputs.kind is InputKind.SYNTHETIC:
            raise InputError(
                f"the synthetic input was rejected: {exc}; give the model's real inputs with "
                "--input (or fix symbolic dimensions with --dim)"
            ) from exc
        raise


def find_models(directory: Path) -> list[Path]:
    """Every ``*.onnx`` file under ``directory`` (hidden folders skipped), in path order;
    InputError when it is not a directory or holds none."""
    if not directory.is_dir():
        raise InputError(f"--models-dir {directory}: not a directory")
    found = sorted(
        p
        for p in directory.rglob("*.onnx")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(directory).parts)
    )
    if not found:
        raise InputError(f"--models-dir {directory}: no *.onnx file in it")
    return found

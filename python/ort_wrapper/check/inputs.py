"""A model's inputs for the harness: the user's real ones, or synthetic ones as the fallback.

Real inputs come from ``--input NAME=FILE.npy``, a directory of ``NAME.npy`` files, or the ONNX
test-data layout model zoos ship (``test_data_set_N/input_K.pb`` with ``output_K.pb`` as the
reference outputs); a model whose folder holds only it and ``test_data_set_*`` folders uses
those by itself. Without any, inputs are synthetic (seeded; symbolic dimensions from ``--dim``,
else 8), and a run that ONNX Runtime rejects says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from ..errors import InputError, OrtWrapperError
from ..files import confined
from ..untrusted import ARRAY_LIMIT, location_problem, read_bounded
from ..untrusted import load_npy as _read_npy

__all__ = [
    "DataSet",
    "InputKind",
    "InputsRejected",
    "ModelInputs",
    "ModelSpec",
    "failed_inputs",
    "find_models",
    "first_run",
    "load_npy",
    "read_pb",
    "resolve_inputs",
    "test_data_sets",
]

_SET = re.compile(r"test_data_set_([0-9]+)$")
_PB = re.compile(r"(input|output)_([0-9]+)\.pb$")


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


def load_npy(path: Path, what: str, root: Path | None = None) -> Any:
    """A .npy array (never a pickle) read by the one reader (inside ``root`` when given);
    InputError naming ``what`` and the file otherwise."""
    try:
        return _read_npy(path, InputError, root=root)
    except FileNotFoundError:
        raise InputError(f"{what}: {path}: no such file") from None
    except InputError as exc:
        raise InputError(f"{what}: {exc}") from None


def _kinds() -> dict[str, tuple[Any, Any]]:
    import onnx
    from onnx import numpy_helper

    return {
        "tensor": (onnx.TensorProto, numpy_helper.to_array),
        "seq": (onnx.SequenceProto, numpy_helper.to_list),
        "map": (onnx.MapProto, numpy_helper.to_dict),
        "optional": (onnx.OptionalProto, numpy_helper.to_optional),
    }


def _tensors(message: Any) -> Iterator[Any]:
    """Every TensorProto in a TensorProto, SequenceProto, MapProto or OptionalProto."""
    from onnx import TensorProto

    if isinstance(message, TensorProto):
        yield message
        return
    for descriptor, value in message.ListFields():
        if descriptor.message_type is not None:
            for item in [value] if hasattr(value, "ListFields") else value:
                yield from _tensors(item)


def _inline_external(tensor: Any, path: Path) -> None:
    """Read a tensor's external data from the .pb file's own folder (never the process's
    working directory, never outside the folder) into the tensor."""
    from onnx import TensorProto

    folder = path.parent
    info = {e.key: e.value for e in tensor.external_data}
    location = info.get("location", "")
    problem = location_problem(folder, location)
    if problem is not None or not location:
        raise InputError(
            f"{path}: tensor {tensor.name!r} reads external data from {location!r}, outside "
            f"its folder {folder} ({problem or 'no location'}): refused"
        )
    data = read_bounded(folder / location, InputError, ARRAY_LIMIT, root=folder)
    offset = int(info.get("offset") or 0)
    end = offset + int(info["length"]) if info.get("length") else len(data)
    if not 0 <= offset <= end <= len(data):
        raise InputError(f"{path}: tensor {tensor.name!r}: offset/length outside {location}")
    tensor.raw_data = data[offset:end]
    del tensor.external_data[:]
    tensor.data_location = TensorProto.DEFAULT


def _read_named(path: Path, onnx_type: str, root: Path | None = None) -> tuple[str, Any]:
    """The proto's recorded name and its value as numpy values (read by the one reader, inside
    ``root`` when given; external data from the file's own folder)."""
    kinds = _kinds()
    proto_type, convert = kinds.get(onnx_type.split("(")[0], kinds["tensor"])
    proto = proto_type()
    try:
        data = read_bounded(path, InputError, ARRAY_LIMIT, root=root)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    try:
        proto.ParseFromString(data)
        for tensor in _tensors(proto):
            if tensor.data_location == tensor.EXTERNAL:
                _inline_external(tensor, path)
        return proto.name, convert(proto)
    except InputError:
        raise
    except Exception as exc:  # protobuf's DecodeError, onnx's conversion errors
        raise InputError(f"{path} is not a serialised {proto_type.__name__} ({exc})") from None


def read_pb(path: Path, onnx_type: str, root: Path | None = None) -> Any:
    """A serialised TensorProto, SequenceProto, MapProto or OptionalProto, chosen by the value's
    ONNX type ('tensor(float)', 'seq(...)', 'map(...)', 'optional(...)'), as numpy values."""
    return _read_named(path, onnx_type, root)[1]


def _numbered(directory: Path, pattern: re.Pattern[str]) -> list[Path]:
    """The entries of ``directory`` whose names ``pattern`` matches, by the number its last
    group holds; InputError when two names hold the same number (``input_0.pb`` beside
    ``input_00.pb``): which one is meant is ambiguous."""
    found: dict[tuple[Any, ...], Path] = {}
    for path in directory.iterdir():
        if match := pattern.match(path.name):
            *kind, number = match.groups()
            key = (*kind, int(number))
            if key in found:
                first, second = sorted([found[key].name, path.name])
                raise InputError(
                    f"{directory}: {first} and {second} both name number {int(number)}: which "
                    "one is meant is ambiguous (remove or rename one)"
                )
            found[key] = path
    return [found[k] for k in sorted(found, key=lambda k: (k[-1], k))]


def test_data_sets(directory: Path) -> list[Path]:
    """The ``test_data_set_N`` folders under ``directory``, in numeric order."""
    return [p for p in _numbered(directory, _SET) if p.is_dir()]


def _by_position(
    paths: list[Path], infos: tuple[Any, ...], what: str, root: Path
) -> dict[str, Any]:
    """``input_K.pb`` is the K-th model input, unless the proto's own name is another input's
    (old models list initializers among the graph's inputs, so positions can shift)."""
    values: dict[str, Any] = {}
    by_name = {i.name: i for i in infos}
    for path in paths:
        k = int(_PB.match(path.name).group(2))  # type: ignore[union-attr]
        if k >= len(infos):
            raise InputError(f"{path}: the model has only {len(infos)} {what}(s)")
        name, value = _read_named(path, infos[k].type, root)
        values[name if name in by_name else infos[k].name] = value
    return values


def _data_set(directory: Path, session: Any, root: Path) -> DataSet:
    """One test-data set; its files must lie inside ``root`` (the folder the user named)."""
    files = _numbered(directory, _PB)
    ins = [p for p in files if p.name.startswith("input_")]
    outs = [p for p in files if p.name.startswith("output_")]
    if not ins:
        raise InputError(f"{directory} holds no input_K.pb file")
    return DataSet(
        directory.name,
        _by_position(ins, session.inputs, "input", root),
        _by_position(outs, session.outputs, "output", root),
    )


def _given(spec: ModelSpec, npy_dirs: list[Path]) -> DataSet | None:
    """The ``--input`` arrays (pairs and directories of NAME.npy) with ``--expected``."""
    feeds: dict[str, Any] = {}
    pairs = [(n, p, None) for n, p in spec.inputs]
    for directory in npy_dirs:
        pairs += [(p.stem, p, directory) for p in sorted(directory.glob("*.npy"))]
    for name, path, root in pairs:
        if name in feeds:
            raise InputError(f"input {name!r} is given twice")
        feeds[name] = load_npy(path, f"input {name!r}", root)
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
            sets.append(_data_set(directory, session, directory))
        elif found := test_data_sets(directory):
            sets += [_data_set(d, session, directory) for d in found]
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
            sets = [_data_set(d, session, spec.path.parent) for d in found]
        if sets:
            return ModelInputs(InputKind.REAL, tuple(sets), ", ".join(s.name for s in sets))
        dims = dict(spec.dims)
    try:
        feeds = synthetic_feeds(session.inputs, dims=dims)
    except InputError as exc:
        raise InputError(f"{exc}; give the model's real inputs with --input") from None
    shapes = "; ".join(f"{n} {list(getattr(v, 'shape', ()))}" for n, v in feeds.items())
    return ModelInputs(InputKind.SYNTHETIC, (DataSet("synthetic", feeds),), shapes)


class InputsRejected(InputError):
    """ONNX Runtime rejected a model's synthetic inputs; ``inputs`` describes them."""

    def __init__(self, message: str, inputs: str) -> None:
        super().__init__(message)
        self.inputs = inputs


def first_run(session: Any, inputs: ModelInputs) -> dict[str, Any]:
    """Run the first data set once; a synthetic input ONNX Runtime rejects is an InputsRejected
    that says so and how to give real ones."""
    try:
        return session.run(dict(inputs.feeds))
    except OrtWrapperError as exc:  # Session.run's InputError or OrtApiError
        if inputs.kind is InputKind.SYNTHETIC:
            raise InputsRejected(
                f"the synthetic input was rejected: {exc}; give the model's real inputs with "
                "--input (or fix symbolic dimensions with --dim)",
                f"{inputs.describe()}, rejected",
            ) from exc
        raise


def failed_inputs(exc: BaseException) -> dict[str, str]:
    """The data of a check that ``exc`` failed: the inputs, when they were rejected, so that
    the models table says why a model has no verdict on its inputs."""
    return {"inputs": exc.inputs} if isinstance(exc, InputsRejected) else {}


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
    for path in found:
        confined(directory, path, InputError, "--models-dir: model")
    if not found:
        raise InputError(f"--models-dir {directory}: no *.onnx file in it")
    return found

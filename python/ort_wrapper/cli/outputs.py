"""``run -o``: each model output written in a form that reads back, under a file name no other
output of the run shares.

- tensors: ``NAME.npy`` (string tensors as unicode arrays, never pickles);
- sequences of tensors: ``NAME.npz``, one array per element named by its index;
- maps, sequences of maps and empty optionals: ``NAME.json``, ``{"type": ONNX type, "value": …}``
  (map keys are JSON strings; ``read_output`` restores integer keys from the type).

File names keep letters, digits, ``-``, ``_`` and ``.``; any other character becomes ``_``. When two
outputs would share a file name (``y/1`` and ``y_1``, or names differing only in case), the one
whose name needed changing gets ``~2``, ``~3``…; the plan says why any output's file name is not
its own.
"""

from __future__ import annotations

import errno
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..files import atomic_file, output_problem
from ..untrusted import ARRAY_LIMIT, load_npy, opened, read_json

__all__ = ["OutputForm", "PlannedOutput", "plan_outputs", "read_output", "write_outputs"]


class OutputForm(Enum):
    """How one output is stored: the file's suffix."""

    NPY = ".npy"
    NPZ = ".npz"
    JSON = ".json"


@dataclass(frozen=True)
class PlannedOutput:
    """Where one output goes, and why its file name is not its own (empty when it is)."""

    name: str
    path: Path
    form: OutputForm
    note: str = ""


def _form(value: Any) -> OutputForm:
    if hasattr(value, "dtype"):
        return OutputForm.NPY
    if isinstance(value, list) and all(hasattr(v, "dtype") for v in value):
        return OutputForm.NPZ
    return OutputForm.JSON


_SAFE = "file names keep only letters, digits, '-', '_' and '.', and start with no '.'"


def _stem(name: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return safe if safe and not safe.startswith(".") else f"_{safe}"


def plan_outputs(outputs: Mapping[str, Any], directory: Path) -> list[PlannedOutput]:
    """A distinct file per output (case-insensitively, for case-insensitive file systems)."""
    taken: set[str] = set()
    order = sorted(outputs, key=lambda n: _stem(n) != n)  # names kept as they are go first
    planned: dict[str, PlannedOutput] = {}
    for name in order:
        form = _form(outputs[name])
        stem, n = _stem(name), 1
        while f"{stem}{'' if n == 1 else f'~{n}'}{form.value}".lower() in taken:
            n += 1
        file = f"{stem}{'' if n == 1 else f'~{n}'}{form.value}"
        taken.add(file.lower())
        notes = [_SAFE] if stem != name else []
        notes += [f"{stem}{form.value} is taken by another output"] if n > 1 else []
        planned[name] = PlannedOutput(name, directory / file, form, "; ".join(notes))
    return [planned[n] for n in outputs]


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return value.tolist()
    return value


def _plain(array: Any) -> Any:
    """String tensors as unicode arrays, so they load without pickle."""
    import numpy as np

    array = np.asarray(array)
    return array.astype(str) if array.dtype == object else array


def _write(plan: PlannedOutput, value: Any, onnx_type: str) -> None:
    import numpy as np

    with atomic_file(plan.path, "wb" if plan.form is not OutputForm.JSON else "w") as fh:
        if plan.form is OutputForm.NPY:
            np.save(fh, _plain(value), allow_pickle=False)
        elif plan.form is OutputForm.NPZ:
            np.savez(fh, **{str(i): _plain(v) for i, v in enumerate(value)})
        else:
            json.dump({"type": onnx_type, "value": _jsonable(value)}, fh)
            fh.write("\n")


def write_outputs(
    outputs: Mapping[str, Any],
    types: Mapping[str, str],
    directory: Path,
    inputs: Sequence[Path] = (),
) -> list[PlannedOutput]:
    """Write every output under ``directory``, none over one of ``inputs``; every file name is
    checked before the first byte is written. An OSError names the user's file (never the
    temporary one it was being written through)."""
    planned = plan_outputs(outputs, directory)
    for plan in planned:
        if problem := output_problem(plan.path, inputs):
            raise OSError(errno.EINVAL, f"output {plan.name!r}: {problem}", str(plan.path))
    for plan in planned:
        try:
            _write(plan, outputs[plan.name], types.get(plan.name, ""))
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, str(plan.path)) from None
    return planned


def _split_map(inner: str) -> tuple[str, str]:
    key, _, value = inner.partition(",")
    return key.strip(), value.strip()


def _restore(value: Any, onnx_type: str) -> Any:
    """JSON values back into what ONNX Runtime returned, guided by the ONNX type."""
    head, _, rest = onnx_type.partition("(")
    inner = rest[:-1]
    if value is None or not rest:
        return value
    if head in ("seq", "optional"):
        return [_restore(v, inner) for v in value] if head == "seq" else _restore(value, inner)
    if head == "map":
        key_type, value_type = _split_map(inner)
        convert = str if key_type == "string" else int
        return {convert(k): _restore(v, value_type) for k, v in value.items()}
    return value


def read_output(path: Path) -> Any:
    """What ``write_outputs`` wrote to ``path``, as ONNX Runtime returned it (read by the one
    reader of untrusted bytes)."""
    import numpy as np

    if path.suffix == OutputForm.NPZ.value:
        with (
            opened(path, InputError, limit=ARRAY_LIMIT) as (fh, _),
            np.load(fh, allow_pickle=False) as archive,
        ):
            return [archive[k] for k in sorted(archive.files, key=int)]
    if path.suffix == OutputForm.JSON.value:
        data = read_json(path, InputError, ARRAY_LIMIT)
        return _restore(data["value"], data["type"])
    return load_npy(path, InputError)

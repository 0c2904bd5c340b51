"""The operators ONNX Runtime's graph optimisers put into models (fused kernels such as
com.microsoft's FusedConv, NCHWc layouts): a reduced build must register those too, so each
model is optimised by a full build of the same version and the result is read back.

The optimising runs in a child process (``python -m ort_wrapper.reduce.optimize DIST OUT
MODEL...``) in the Python that can load the distribution, so nothing here loads a runtime.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ..errors import BuildError, InputError, OrtWrapperError
from ..operators import Operator
from ..runtime.child import json_child
from ..runtime.target import interpreter_for, resolve_target
from .models import model_operators

__all__ = ["optimized_operators"]

_TIMEOUT_S = 600.0


def _child_command(
    dist: Path, out: Path, models: Sequence[Path]
) -> tuple[list[str], dict[str, str]]:
    target = resolve_target(dist)
    if target.problem:
        raise InputError(f"--dist {dist}: {target.problem}")
    python, env = interpreter_for(target)
    argv = [python, "-m", __name__, str(target.root), str(out), *map(str, models)]
    return argv, env


def optimized_operators(dist: Path, models: Sequence[Path]) -> tuple[str, set[Operator]]:
    """The version of ``dist`` and the operators of ``models`` once its optimisers (level
    'all', CPU) ran on them. BuildError naming the model when the runtime refuses one."""
    with tempfile.TemporaryDirectory(prefix="ort-optimized-") as tmp:
        argv, extra = _child_command(dist, Path(tmp), models)
        data, why = json_child(argv, _TIMEOUT_S, f"optimising with {dist}", {**os.environ, **extra})
        if data is None:
            raise BuildError(f"cannot optimise the models with {dist}: {why}")
        if data.get("error"):
            raise BuildError(f"{dist} cannot optimise {data['model']}: {data['error']}")
        found: set[Operator] = set()
        for path in sorted(Path(tmp).glob("*.onnx")):
            found |= model_operators(path)[1]
        return str(data["version"]), found


def _optimize(dist: str, out: Path, models: Sequence[str]) -> dict[str, str]:
    from ..runtime.loader import init
    from ..runtime.session import SessionBuilder

    info = init(dist)
    for number, model in enumerate(models):
        builder = SessionBuilder.from_file(model).cpu_only().optimization_level("all")
        try:
            builder.log_level("fatal").save_optimized(out / f"{number}.onnx").build()
        except OrtWrapperError as exc:
            return {"version": info.version, "model": model, "error": str(exc)}
    return {"version": info.version}


if __name__ == "__main__":
    print(json.dumps(_optimize(sys.argv[1], Path(sys.argv[2]), sys.argv[3:])))

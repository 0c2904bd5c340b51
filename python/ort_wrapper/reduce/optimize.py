"""The operators ONNX Runtime's graph optimisers put into models (fused kernels such as
com.microsoft's FusedConv, NCHWc layouts): a reduced build must register those too, so each
model is optimised by a full build of the same version and the result is read back.

The optimising runs in a confined child (``python -m ort_wrapper.reduce.optimize``, through
``runtime.untrusted``) in the Python that can load the distribution, so nothing here loads a
runtime.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ..errors import BuildError, InputError, OrtWrapperError
from ..operators import Operator
from ..runtime.capi.static import interpreter_for
from ..runtime.distribution import locate
from .models import model_operators

__all__ = ["optimized_operators"]

_TIMEOUT_S = 600.0


def _child(dist: Path) -> tuple[list[str], dict[str, str], Path]:
    """The child's command, the environment it needs, and the distribution's root."""
    target = locate(dist, strict=False)
    if target.problem is not None:
        raise InputError(f"--dist {dist}: {target.problem}")
    python, env = interpreter_for(target)
    return [python, "-m", __name__], env, target.path


def optimized_operators(dist: Path, models: Sequence[Path]) -> tuple[str, set[Operator]]:
    """The version of ``dist`` and the operators of ``models`` once its optimisers (level
    'all', CPU) ran on them. BuildError naming the model when the runtime refuses one."""
    from ..runtime.untrusted import run_confined

    with tempfile.TemporaryDirectory(prefix="ort-optimized-") as tmp:
        argv, extra, root = _child(dist)
        done = run_confined(
            argv,
            what=f"optimising with {dist}",
            timeout=_TIMEOUT_S,
            request={"dist": str(root), "out": tmp, "models": [str(m) for m in models]},
            env={**os.environ, **extra},
            readable=[root, *(Path(m).absolute().parent for m in models)],
            writable=[Path(tmp)],
        )
        data = done.result
        if done.error or not isinstance(data, dict):
            raise BuildError(f"cannot optimise the models with {dist}: {done.error}")
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
    from ..runtime.untrusted import receive

    channel, request = receive()
    channel.send(_optimize(request["dist"], Path(request["out"]), request["models"]))

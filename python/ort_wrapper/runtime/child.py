"""Asking a distribution about itself in a child process, so the caller never loads a runtime
and a library that crashes, hangs or is not ONNX Runtime is a result with an error.

One protocol for every such child (the C API probe, doctor's runtime query): the child prints
one JSON object on its last ``{``-line; :func:`json_child` runs it and returns the object or
why there is none. ``python -m ort_wrapper.runtime.child [ROOT]`` is doctor's query: the version
and compiled-in providers of ``init(ROOT)``, or of a plain ``import onnxruntime`` without ROOT.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["json_child", "run_command", "runtime_command"]


def run_command(
    command: Sequence[str],
    timeout: float,
    what: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | str | None = None,
) -> tuple[int, str, str | None]:
    """Run ``command``; (exit code, stdout, why it failed or its stderr tail)."""
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd
        )
    except subprocess.TimeoutExpired:
        return -1, "", f"{what} did not finish within {timeout:.0f} s"
    except OSError as exc:
        return -1, "", f"cannot run {command[0]}: {exc.strerror}"
    if done.returncode < 0:
        return done.returncode, done.stdout, f"{what} was killed by signal {-done.returncode}"
    return done.returncode, done.stdout, (done.stderr.strip()[-2000:] or None)


def json_child(
    command: Sequence[str],
    timeout: float,
    what: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | str | None = None,
) -> tuple[dict[str, Any] | None, str | None]:
    """Run a child that prints one JSON object; (the object, None) or (None, why not)."""
    code, out, err = run_command(command, timeout, what, env, cwd)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if code != 0 or not lines:
        return None, err or f"{what} exited with {code}"
    try:
        data = json.loads(lines[-1])
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
    except ValueError as exc:
        return None, f"{what} printed {lines[-1][:200]!r} ({exc})"
    return data, None


def runtime_command(root: Path | None) -> list[str]:
    """The child that reports ``init(root)``'s runtime (``root`` None: ``import onnxruntime``)."""
    return [sys.executable, "-m", __name__, *([str(root)] if root is not None else [])]


def _runtime_facts(argv: Sequence[str]) -> dict[str, Any]:
    if argv:
        from .loader import init

        info = init(argv[0])
        return {"version": info.version, "providers": list(info.available_providers)}
    import onnxruntime

    return {
        "version": onnxruntime.__version__,
        "file": onnxruntime.__file__,
        "providers": onnxruntime.get_available_providers(),
    }


if __name__ == "__main__":
    print(json.dumps(_runtime_facts(sys.argv[1:])))

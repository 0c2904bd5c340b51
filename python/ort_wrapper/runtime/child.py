"""Child processes: trusted tools (a compiler, a linker) run with :func:`run_command`; the
runtime query ``python -m ort_wrapper.runtime.child`` is doctor's question to a distribution.

The query is a confined child (``runtime.untrusted.run_confined``): its request is the
distribution's root (None: a plain ``import onnxruntime``, the package on its PYTHONPATH), and
its answer, sent on the result channel, is the version and compiled-in providers.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["run_command", "runtime_command"]


def run_command(
    command: Sequence[str],
    timeout: float,
    what: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | str | None = None,
) -> tuple[int, str, str | None]:
    """Run a trusted tool ``command``; (exit code, stdout, why it failed or its stderr tail)."""
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


def runtime_command() -> list[str]:
    """The runtime query's command (its request: the root, or None for ``import onnxruntime``)."""
    return [sys.executable, "-m", __name__]


def _runtime_facts(root: str | None) -> dict[str, Any]:
    if root is not None:
        from .loader import init

        info = init(root)
        return {"version": info.version, "providers": list(info.available_providers)}
    from .untrusted import import_onnxruntime

    module = import_onnxruntime()
    return {
        "version": module.__version__,
        "file": module.__file__,
        "providers": module.get_available_providers(),
    }


if __name__ == "__main__":
    from .untrusted import receive

    channel, request = receive()
    channel.send(_runtime_facts(request))

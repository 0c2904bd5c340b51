"""Running code, or the ``ort-wrapper`` command, in a fresh Python process: for what only a
process boundary shows (init() is once per process; a crash, a signal, what a child inherits).
The command in this process, where no boundary is under test: the ``run_cli`` fixture
(tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ort_wrapper

__all__ = [
    "CLI",
    "LAB_VERSION",
    "PYTHON_DIR",
    "REPO",
    "cli",
    "python_env",
    "run_fresh",
    "skip_loudly",
]

REPO = Path(__file__).resolve().parent.parent
LAB_VERSION = "1.21.0"  # the ORT source the lab-tier tests build (the newest Debian serves)
# The package under test (the repo's, or another checkout's when PYTHONPATH points there).
PYTHON_DIR = Path(ort_wrapper.__file__).resolve().parents[1]
# The command line of ``ort-wrapper`` in a child (for subprocess.Popen where a test signals it).
CLI = (sys.executable, "-m", "ort_wrapper.cli")


def run_fresh(
    code: str, env: Mapping[str, str | None] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` with this interpreter in a new process; ``env`` entries set to None are
    removed. The repo's python/ and tests/ are importable."""
    path = os.pathsep.join([str(REPO / "python"), str(REPO / "tests")])
    environ = python_env(PYTHONPATH=path, **(env or {}))
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def python_env(**extra: str | None) -> dict[str, str]:
    """The environment for a fresh process that imports the package under test: this one's,
    without the ORT_WRAPPER*/ORT_LIB* variables, plus ``extra`` (None removes a variable)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORT_WRAPPER", "ORT_LIB"))}
    env["PYTHONPATH"] = os.pathsep.join([str(PYTHON_DIR), env.get("PYTHONPATH", "")])
    for key, value in extra.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def cli(
    *args: str, prefix: list[str] | None = None, timeout: float = 300, **popen: Any
) -> subprocess.CompletedProcess[str]:
    """``ort-wrapper ARGS`` in a fresh process (``prefix``: a command to run it under; ``popen``:
    subprocess.run's arguments, ``env`` defaulting to ``python_env()``). The one way the tests
    start the command in a child."""
    command = [*(prefix or []), *CLI, *args]
    popen.setdefault("env", python_env())
    return subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, check=False, **popen
    )


def skip_loudly(reason: str) -> None:
    """Skip a lab-tier test for a failure of the environment (not of this project), visibly."""
    import pytest

    print(f"\n*** native lab SKIPPED (environment): {reason}\n", file=sys.stderr)
    pytest.skip(f"native lab environment: {reason}")

"""Running code in a fresh Python process (init() is once per process)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path

__all__ = ["LAB_VERSION", "REPO", "run_fresh", "skip_loudly"]

REPO = Path(__file__).resolve().parent.parent
LAB_VERSION = "1.21.0"  # the ORT source the lab-tier tests build (the newest Debian serves)


def run_fresh(
    code: str, env: Mapping[str, str | None] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` with this interpreter in a new process; ``env`` entries set to None are
    removed. The repo's python/ and tests/ are importable."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("ORT_WRAPPER", "ORT_LIB"))}
    environ["PYTHONPATH"] = os.pathsep.join([str(REPO / "python"), str(REPO / "tests")])
    for key, value in (env or {}).items():
        if value is None:
            environ.pop(key, None)
        else:
            environ[key] = value
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def skip_loudly(reason: str) -> None:
    """Skip a lab-tier test for a failure of the environment (not of this project), visibly."""
    import pytest

    print(f"\n*** native lab SKIPPED (environment): {reason}\n", file=sys.stderr)
    pytest.skip(f"native lab environment: {reason}")

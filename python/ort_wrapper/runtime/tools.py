"""Running a trusted tool (a compiler, a linker) in a child process: :func:`run_command`.

A distribution's own code never runs through here: that goes through ``runtime.untrusted``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["run_command"]


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

"""Asking a ``libonnxruntime.so*`` for its version and C API in a child process.

``python -m ort_wrapper.runtime.capi.probe LIBRARY API [PRELOAD...]`` loads the library with
ctypes and prints one JSON line, so a library that crashes on load, hangs or is not ONNX Runtime
is a result with an error instead of the end of the caller. ``API`` 0 asks for the API version
the library's own release number implies.
"""

from __future__ import annotations

import ctypes
import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PROBE_TIMEOUT_S", "CapiResult", "probe_shared", "run_command"]

PROBE_TIMEOUT_S = 60


@dataclass(frozen=True)
class CapiResult:
    """What the C API said: whether GetApi(api) was non-null and the version string."""

    api: int
    api_ok: bool = False
    version: str | None = None
    error: str | None = None
    command: tuple[str, ...] = ()


def run_command(command: Sequence[str], timeout: float, what: str) -> tuple[int, str, str | None]:
    """Run ``command``; (exit code, stdout, why it failed or its stderr tail)."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return -1, "", f"{what} did not finish within {timeout:.0f} s"
    except OSError as exc:
        return -1, "", f"cannot run {command[0]}: {exc.strerror}"
    if done.returncode < 0:
        return done.returncode, done.stdout, f"{what} was killed by signal {-done.returncode}"
    return done.returncode, done.stdout, (done.stderr.strip()[-2000:] or None)


def _probe_here(library: str, api: int, preload: Sequence[str]) -> dict[str, object]:
    from ...errors import InitError
    from .api import open_library, release_api

    for path in preload:
        ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
    try:
        _, base, version = open_library(Path(library))
    except InitError as exc:
        return {"error": str(exc)}
    wanted = api or release_api(version)
    if wanted is None:
        return {"version": version, "api": 0, "error": f"GetVersionString() = {version!r}"}
    return {"api_ok": bool(base.contents.GetApi(wanted)), "version": version, "api": wanted}


def probe_shared(library: Path, api: int = 0, preload: Sequence[Path] = ()) -> CapiResult:
    """Load ``library`` with ctypes in a child process and ask its C API for ``api`` (0: the
    one its version implies)."""
    command = (sys.executable, "-m", __name__, str(library), str(api), *map(str, preload))
    code, out, err = run_command(command, PROBE_TIMEOUT_S, "the C API probe")
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if code != 0 or not lines:
        return CapiResult(api, error=err or f"the C API probe exited with {code}", command=command)
    try:
        data = json.loads(lines[-1])
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
    except ValueError as exc:
        return CapiResult(
            api, error=f"the C API probe printed {lines[-1][:200]!r} ({exc})", command=command
        )
    return CapiResult(
        int(data.get("api") or api),
        bool(data.get("api_ok")),
        data.get("version"),
        data.get("error"),
        command,
    )


if __name__ == "__main__":
    try:
        result = _probe_here(sys.argv[1], int(sys.argv[2]), sys.argv[3:])
    except OSError as exc:
        result = {"error": f"cannot load: {exc}"}
    print(json.dumps(result))

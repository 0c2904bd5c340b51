"""Asking a ``libonnxruntime.so*`` for its version and C API in a child process.

``python -m ort_wrapper.runtime.capi.probe LIBRARY API [PRELOAD...]`` loads the library with
ctypes and prints one JSON line, so a library that crashes on load, hangs or is not ONNX Runtime
is a result with an error instead of the end of the caller. ``API`` 0 asks for the API version
the library's own release number implies.
"""

from __future__ import annotations

import ctypes
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..child import json_child

__all__ = ["PROBE_TIMEOUT_S", "CapiResult", "probe_shared"]

PROBE_TIMEOUT_S = 60


@dataclass(frozen=True)
class CapiResult:
    """What the C API said: whether GetApi(api) was non-null and the version string."""

    api: int
    api_ok: bool = False
    version: str | None = None
    error: str | None = None
    command: tuple[str, ...] = ()


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
    data, error = json_child(command, PROBE_TIMEOUT_S, "the C API probe")
    if data is None:
        return CapiResult(api, error=error, command=command)
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

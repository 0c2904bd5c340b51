"""Asking a ``libonnxruntime.so*`` for its version and C API in a confined child process.

The library is vetted first, reading only (``runtime.untrusted.vet``: it must export
``OrtGetApiBase``, resolve inside its distribution, need only library names), so nothing that
is not plausibly ONNX Runtime is loaded. ``python -m ort_wrapper.runtime.capi.probe`` is the
child: it loads the library with ctypes and answers on its result channel, so a library that
crashes on load, hangs or prints is a result with an error, not the end of the caller nor a
forged answer. ``api`` 0 asks for the API version the library's own release number implies.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

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


def _probe_here(request: dict[str, object]) -> dict[str, object]:
    from ...errors import InitError
    from ..untrusted import Role, load_library
    from .api import open_library, release_api

    root = Path(str(request["root"]))
    try:
        for path in request["preload"]:  # type: ignore[attr-defined]
            load_library(Path(path), root, Role.DEPENDENCY, global_=True)
        _, base, version = open_library(Path(str(request["library"])), root)
    except InitError as exc:
        return {"error": str(exc)}
    wanted = int(request["api"]) or release_api(version)  # type: ignore[call-overload]
    if wanted is None:
        return {"version": version, "api": 0, "error": f"GetVersionString() = {version!r}"}
    return {"api_ok": bool(base.contents.GetApi(wanted)), "version": version, "api": wanted}


def probe_shared(
    library: Path, root: Path, api: int = 0, preload: Sequence[Path] = ()
) -> CapiResult:
    """Vet ``library`` (of the distribution at ``root``) and ``preload``, then load them in a
    confined child and ask the C API for ``api`` (0: the one its version implies)."""
    from ...errors import InitError
    from ..untrusted import Role, run_confined, vet

    command = (sys.executable, "-m", __name__)
    try:
        for path in preload:
            vet(path, root, Role.DEPENDENCY)
        vet(library, root, Role.CORE)
    except InitError as exc:
        return CapiResult(api, error=str(exc), command=command)
    request = {
        "library": str(library),
        "root": str(root),
        "api": api,
        "preload": [str(p) for p in preload],
    }
    done = run_confined(
        command, what="the C API probe", timeout=PROBE_TIMEOUT_S, request=request, readable=[root]
    )
    data = done.result
    if done.error or not isinstance(data, dict):
        why = done.error or f"the C API probe sent {data!r}"
        return CapiResult(api, error=why, command=command)
    return CapiResult(
        int(data.get("api") or api),
        bool(data.get("api_ok")),
        data.get("version"),
        data.get("error"),
        command,
    )


if __name__ == "__main__":
    from ..untrusted import receive

    channel, request = receive()
    channel.send(_probe_here(request))

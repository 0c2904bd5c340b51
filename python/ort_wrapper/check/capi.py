"""Reaching ONNX Runtime's C API: ``OrtGetApiBase()->GetApi(N)`` and ``GetVersionString()``.

Shared distributions are probed with ctypes in a child process (``python -m
ort_wrapper.check.capi LIBRARY API [PRELOAD...]``), so a library that crashes on load fails a
check instead of killing the harness. Static distributions are proven by compiling and running
a small C program against their archives with the manifest's link flags.
"""

from __future__ import annotations

import ctypes
import json
import logging
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..manifest import PREFIX_VAR, Manifest

__all__ = ["CapiResult", "probe_shared", "probe_static", "static_program"]

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 60
LINK_TIMEOUT_S = 600


@dataclass(frozen=True)
class CapiResult:
    """What the C API said: whether GetApi(api) was non-null and the version string."""

    api: int
    api_ok: bool = False
    version: str | None = None
    error: str | None = None
    command: tuple[str, ...] = ()


class _ApiBase(ctypes.Structure):
    _fields_ = [
        ("GetApi", ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_uint32)),
        ("GetVersionString", ctypes.CFUNCTYPE(ctypes.c_char_p)),
    ]


def _probe_here(library: str, api: int, preload: Sequence[str]) -> dict[str, object]:
    for path in preload:
        ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
    lib = ctypes.CDLL(library)
    try:
        get_base = lib.OrtGetApiBase
    except AttributeError:
        return {"error": f"{Path(library).name} does not export OrtGetApiBase"}
    get_base.restype = ctypes.POINTER(_ApiBase)
    base = get_base()
    if not base:
        return {"error": "OrtGetApiBase() returned NULL"}
    version = base.contents.GetVersionString()
    return {
        "api_ok": bool(base.contents.GetApi(api)),
        "version": version.decode() if version else None,
    }


def _run(command: Sequence[str], timeout: float, what: str) -> tuple[int, str, str | None]:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return -1, "", f"{what} did not finish within {timeout:.0f} s"
    except OSError as exc:
        return -1, "", f"cannot run {command[0]}: {exc.strerror}"
    if done.returncode < 0:
        return done.returncode, done.stdout, f"{what} was killed by signal {-done.returncode}"
    return done.returncode, done.stdout, (done.stderr.strip()[-2000:] or None)


def probe_shared(library: Path, api: int, preload: Sequence[Path] = ()) -> CapiResult:
    """Load ``library`` with ctypes in a child process and ask its C API for ``api``."""
    command = (sys.executable, "-m", __name__, str(library), str(api), *map(str, preload))
    code, out, err = _run(command, PROBE_TIMEOUT_S, "the C API probe")
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
        api, bool(data.get("api_ok")), data.get("version"), data.get("error"), command
    )


def static_program(api: int) -> str:
    """The C source that proves a static link: prints the version and whether GetApi worked."""
    return f"""#include <stdio.h>
#include "onnxruntime_c_api.h"

int main(void) {{
  const OrtApiBase* base = OrtGetApiBase();
  if (base == NULL) {{
    printf("base=null\\n");
    return 3;
  }}
  const OrtApi* api = base->GetApi({api});
  printf("version=%s\\napi=%s\\n", base->GetVersionString(), api != NULL ? "ok" : "null");
  return api != NULL ? 0 : 4;
}}
"""


def _header_dir(root: Path, manifest: Manifest) -> Path | None:
    if manifest.include_dir is None:
        return None
    base = root / manifest.include_dir
    found = sorted(base.rglob("onnxruntime_c_api.h")) if base.is_dir() else []
    return found[0].parent if found else None


def probe_static(root: Path, manifest: Manifest, api: int, cc: str | None = None) -> CapiResult:
    """Compile, link (the manifest's link flags, ``${prefix}`` = ``root``) and run a C program."""
    compiler = cc or shutil.which("cc")
    if compiler is None:
        return CapiResult(api, error="no C compiler: `cc` is not on PATH (install gcc or clang)")
    include = _header_dir(root, manifest)
    if include is None:
        where = f"{root / manifest.include_dir}" if manifest.include_dir else "includeDir (unset)"
        return CapiResult(api, error=f"onnxruntime_c_api.h not found under {where}")
    flags = [f.replace(PREFIX_VAR, str(root)) for f in manifest.link_flags]
    if not any(f in ("-lstdc++", "-lc++") for f in flags):
        flags.append("-lstdc++")  # the archives are C++; the program is C
    with tempfile.TemporaryDirectory(prefix="ort-check-") as tmp:
        source, program = Path(tmp) / "capi.c", Path(tmp) / "capi"
        source.write_text(static_program(api))
        command = (compiler, str(source), f"-I{include}", "-o", str(program), *flags, "-lm")
        code, _, err = _run(command, LINK_TIMEOUT_S, "compiling and linking")
        if code != 0:
            return CapiResult(api, error=f"compile/link failed: {err}", command=command)
        code, out, err = _run((str(program),), PROBE_TIMEOUT_S, "the linked program")
    facts = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    if code not in (0, 4):
        return CapiResult(
            api, error=err or f"the linked program exited with {code}", command=command
        )
    return CapiResult(api, facts.get("api") == "ok", facts.get("version"), None, command)


if __name__ == "__main__":
    try:
        result = _probe_here(sys.argv[1], int(sys.argv[2]), sys.argv[3:])
    except OSError as exc:
        result = {"error": f"cannot load: {exc}"}
    print(json.dumps(result))

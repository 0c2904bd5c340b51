"""Reaching ONNX Runtime's C API: ``OrtGetApiBase()->GetApi(N)`` and ``GetVersionString()``.

Shared distributions are probed with ctypes in a child process
(``ort_wrapper.runtime.capi.probe``), so a library that crashes on load fails a check instead of
killing the harness. Static distributions are proven by compiling and running a small C program
against their archives with the manifest's link flags.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from ..manifest import Manifest
from ..runtime.capi.library import c_driver_flags
from ..runtime.capi.probe import PROBE_TIMEOUT_S, CapiResult, probe_shared
from ..runtime.child import run_command as _run

__all__ = ["CapiResult", "probe_shared", "probe_static", "static_program"]

log = logging.getLogger(__name__)

LINK_TIMEOUT_S = 600


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
    flags = c_driver_flags(root, manifest)
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

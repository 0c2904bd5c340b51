"""Reaching ONNX Runtime's C API: ``OrtGetApiBase()->GetApi(N)`` and ``GetVersionString()``.

Shared distributions are probed with ctypes in a confined child process
(``ort_wrapper.runtime.capi.probe``), so a library that crashes on load fails a check instead of
killing the harness. Static distributions are proven by compiling and running (confined, as
``runtime.untrusted`` runs every distribution's code) a small C program against their archives
with the manifest's link flags.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from ..manifest import Manifest, find_c_api_header
from ..runtime.capi.probe import PROBE_TIMEOUT_S, CapiResult, probe_shared
from ..runtime.capi.static import LINK_TIMEOUT_S, c_driver_flags
from ..runtime.tools import run_command as _run
from ..runtime.untrusted import RESULT_FD_ENV, run_confined

__all__ = ["CapiResult", "probe_shared", "probe_static", "static_program"]

log = logging.getLogger(__name__)


_PROGRAM = r"""#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "onnxruntime_c_api.h"

static void put_string(FILE* out, const char* text) {
  fputc('"', out);
  for (; text != NULL && *text; ++text) {
    unsigned char c = (unsigned char)*text;
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') fprintf(out, "\\u%04x", c);
    else fputc(c, out);
  }
  fputc('"', out);
}

int main(void) {
  char nonce[128] = {0};
  const char* fd = getenv("@FD_ENV@");
  FILE* out = fd != NULL ? fdopen(atoi(fd), "w") : NULL;
  if (out == NULL || fgets(nonce, sizeof nonce, stdin) == NULL) return 5;
  nonce[strcspn(nonce, "\n")] = 0;
  const OrtApiBase* base = OrtGetApiBase();
  if (base == NULL) {
    fprintf(out, "%s {\"error\": \"OrtGetApiBase() returned NULL\"}\n", nonce);
    return 3;
  }
  const OrtApi* api = base->GetApi(@API@);
  fprintf(out, "%s {\"version\": ", nonce);
  put_string(out, base->GetVersionString());
  fprintf(out, ", \"api_ok\": %s}\n", api != NULL ? "true" : "false");
  return fclose(out) == 0 ? 0 : 6;
}
"""


def static_program(api: int) -> str:
    """The C source that proves a static link: it answers the version and whether GetApi
    worked on its result channel (``runtime.untrusted``: the nonce on stdin, the channel's
    descriptor in the environment), so what the archives' code prints is never the answer."""
    return _PROGRAM.replace("@FD_ENV@", RESULT_FD_ENV).replace("@API@", str(api))


def probe_static(root: Path, manifest: Manifest, api: int, cc: str | None = None) -> CapiResult:
    """Compile, link (the manifest's link flags, ``${prefix}`` = ``root``) and run a C program."""
    compiler = cc or shutil.which("cc")
    if compiler is None:
        return CapiResult(api, error="no C compiler: `cc` is not on PATH (install gcc or clang)")
    header = find_c_api_header(root, [manifest.include_dir] if manifest.include_dir else [])
    if header is None:
        where = f"{root / manifest.include_dir}" if manifest.include_dir else "includeDir (unset)"
        return CapiResult(api, error=f"onnxruntime_c_api.h not found under {where}")
    flags = c_driver_flags(root, manifest)
    with tempfile.TemporaryDirectory(prefix="ort-check-") as tmp:
        source, program = Path(tmp) / "capi.c", Path(tmp) / "capi"
        source.write_text(static_program(api))
        command = (compiler, str(source), f"-I{header.parent}", "-o", str(program), *flags, "-lm")
        code, _, err = _run(command, LINK_TIMEOUT_S, "compiling and linking")
        if code != 0:
            return CapiResult(api, error=f"compile/link failed: {err}", command=command)
        done = run_confined(
            (str(program),),
            what="the linked program",
            timeout=PROBE_TIMEOUT_S,
            readable=[Path(tmp)],
        )
    data = done.result if isinstance(done.result, dict) else {}
    if done.error or data.get("error"):
        return CapiResult(api, error=done.error or data["error"], command=command)
    return CapiResult(api, data.get("api_ok") is True, data.get("version"), None, command)

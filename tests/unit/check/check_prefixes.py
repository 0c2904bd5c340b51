"""Distributions for the check tests: a synthetic static C distribution compiled here (real
archives, real link) and a manifest writer (prefixes of the installed wheel: support.prefixes)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ort_wrapper.files import sha256_file
from ort_wrapper.manifest import FileEntry, Manifest

__all__ = ["static_prefix", "write_manifest"]

FAKE_HEADER = """#include <stdint.h>
typedef struct OrtApi OrtApi;
typedef struct OrtApiBase {
  const OrtApi* (*GetApi)(uint32_t version);
  const char* (*GetVersionString)(void);
} OrtApiBase;
const OrtApiBase* OrtGetApiBase(void);
"""

FAKE_CORE = """#include <stddef.h>
#include "onnxruntime_c_api.h"
static int api_table;
static const OrtApi* get_api(uint32_t v) { return v == %(api)d ? (const OrtApi*)&api_table : NULL; }
static const char* version(void) { return "%(version)s"; }
static const OrtApiBase base = { get_api, version };
const OrtApiBase* OrtGetApiBase(void) { return &base; }
"""


def write_manifest(
    root: Path,
    *,
    version: str,
    link_mode: str,
    entries: list[tuple[str, str]],
    link_flags: tuple[str, ...] = (),
    python_path: str | None = None,
    include_dir: str | None = None,
    providers: tuple[str, ...] = ("CPUExecutionProvider",),
) -> Path:
    """Write a manifest listing ``entries`` (path, kind); missing files get a dummy hash."""
    files = tuple(
        FileEntry(rel, kind, sha256_file(root / rel) if (root / rel).exists() else "0" * 64)
        for rel, kind in entries
    )
    manifest = Manifest(
        version,
        "cpu",
        link_mode,
        providers,
        files,
        link_flags,
        python_path=python_path,
        include_dir=include_dir,
    )
    return manifest.write(root)


def static_prefix(root: Path, *, version: str = "1.21.0", api: int = 21, pic: bool = True) -> Path:
    """A static C distribution: include/onnxruntime_c_api.h and lib/libonnxruntime_session.a whose
    OrtGetApiBase answers ``version`` and a non-null GetApi(``api``) (compiled with -fno-pic
    when not ``pic``). Needs cc and ar."""
    (root / "include" / "onnxruntime").mkdir(parents=True)
    (root / "lib").mkdir()
    (root / "include" / "onnxruntime" / "onnxruntime_c_api.h").write_text(FAKE_HEADER)
    source = root / "core.c"
    source.write_text(FAKE_CORE % {"api": api, "version": version})
    obj = root / "core.o"
    subprocess.run(
        [
            "cc",
            "-c",
            *(() if pic else ("-fno-pic",)),
            str(source),
            f"-I{root / 'include' / 'onnxruntime'}",
            "-o",
            str(obj),
        ],
        check=True,
    )
    subprocess.run(
        ["ar", "rcs", str(root / "lib" / "libonnxruntime_session.a"), str(obj)], check=True
    )
    source.unlink()
    obj.unlink()
    write_manifest(
        root,
        version=version,
        link_mode="static",
        entries=[
            ("lib/libonnxruntime_session.a", "archive"),
            ("include/onnxruntime/onnxruntime_c_api.h", "header"),
        ],
        link_flags=("${prefix}/lib/libonnxruntime_session.a",),
        include_dir="include",
    )
    return root

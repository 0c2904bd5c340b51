"""Helpers every stage may import: the cache location, tool lookup, hashing, atomic writes."""

from __future__ import annotations

import base64
import ctypes
import errno
import hashlib
import json
import os
import re
import secrets
import shutil
import stat
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
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
    "copy_file",
    "distribution_name",
    "find_tool",
    "name_problem",
    "new_directory",
    "output_problem",
    "publish",
    "record_hash",
    "relpath_problem",
    "sha256_file",
    "write_file",
    "write_json_atomic",
]

_CHUNK = 1 << 22


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


_RENAME_NOREPLACE, _RENAME_EXCHANGE = 1, 2
# (what is there, whether it is what was there at the start) -> why it may not be replaced
_Judge = Callable[[Path, bool], "str | None"]
_NAME_MAX, _PATH_MAX = 255, 4096  # when the file system does not say


def _renameat2_errcheck(result: int, func: Any, args: tuple[Any, ...]) -> int:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def _load_renameat2() -> Any:
    """glibc's ``renameat2`` (Linux), declared once; None where the C library lacks it."""
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    function.argtypes += [ctypes.c_uint]
    function.restype = ctypes.c_int
    function.errcheck = _renameat2_errcheck
    return function


_RENAMEAT2 = _load_renameat2()


def name_problem(path: Path) -> str | None:
    """Why the file system would refuse the name ``path`` (None when it would not): a NUL
    byte, a component longer than its NAME_MAX bytes or a path longer than PATH_MAX. Opens
    nothing; the parent folder need not exist yet."""
    text = str(path)
    if "\0" in text:
        return "holds a NUL byte"
    existing = Path(path).absolute().parent
    while not existing.is_dir() and existing != existing.parent:
        existing = existing.parent
    name_max = _pathconf(existing, "PC_NAME_MAX", _NAME_MAX)
    for part in Path(path).parts:
        if len(os.fsencode(part)) > name_max:
            return f"has a name of {len(os.fsencode(part))} bytes; the file system takes {name_max}"
    path_max = _pathconf(existing, "PC_PATH_MAX", _PATH_MAX)
    if len(os.fsencode(str(Path(path).absolute()))) >= path_max:
        return "is longer than the file system's longest path"
    return None


def _pathconf(folder: Path, name: str, default: int) -> int:
    try:
        return os.pathconf(folder, name)
    except (OSError, ValueError):
        return default


def output_problem(path: Path, inputs: Iterable[Path | None] = ()) -> str | None:
    """Why ``path`` cannot be an output file (None when it can): a name the file system would
    refuse, one of ``inputs`` (ask before any work starts), something there that is not a
    regular file (a directory, FIFO, device, or a symlink, which would be replaced), or a
    folder that is not writable. Opens nothing, so it never blocks and never creates a file."""
    if (problem := name_problem(path) or _input_problem(path, inputs)) is not None:
        return problem
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


def _input_problem(out: Path, inputs: Iterable[Path | None]) -> str | None:
    """Why ``out`` is one of ``inputs`` (None when it is none): the same path, or the same
    file (device and inode: a hard link, a symlink to it)."""
    out_id = _identity_of(out)
    for path in filter(None, inputs):
        same_path = os.path.normpath(out.absolute()) == os.path.normpath(path.absolute())
        if same_path or (out_id is not None and out_id == _identity_of(path)):
            return f"is the input {path} (the same file): writing it would replace what is read"
    return None


def _identity_of(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    return info.st_dev, info.st_ino


def _at(dir_fd: int, name: str) -> tuple[int, int] | None:
    """The device and inode of ``name`` in the folder ``dir_fd`` (a symlink's own); None when
    nothing is there."""
    try:
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    return info.st_dev, info.st_ino


def _temp_name(name: str) -> str:
    """A fresh hidden name beside ``name`` that fits the file system however long ``name``
    is."""
    return f".{os.fsdecode(os.fsencode(name)[:100])}.{secrets.token_hex(6)}.tmp"


def _rename(dir_fd: int, old: str, new: str, flags: int) -> bool:
    """renameat2 in one folder; False where the kernel or file system lacks it."""
    if _RENAMEAT2 is None:
        return False
    try:
        _RENAMEAT2(dir_fd, os.fsencode(old), dir_fd, os.fsencode(new), flags)
    except OSError as exc:
        if exc.errno in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
            return False
        raise
    return True


def _remove(dir_fd: int, name: str) -> None:
    """Remove what ``name`` is in ``dir_fd``: a file, or a folder this writer made."""
    if stat.S_ISDIR(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
        shutil.rmtree(name, dir_fd=dir_fd)
    else:
        os.unlink(name, dir_fd=dir_fd)


def _place(
    folder: tuple[Path, int], tmp: str, name: str, seen: tuple[int, int] | None, judge: _Judge
) -> None:
    """Rename ``tmp`` to ``name`` (both in ``folder``: its path and descriptor) without
    replacing anything this writer did not check: where nothing is there the rename refuses
    to replace (RENAME_NOREPLACE); otherwise the two are swapped atomically (RENAME_EXCHANGE)
    and what was there is judged again (``judge``, told whether it is ``seen``, what was there
    at the start); what may not be replaced is swapped back and left as it was."""
    path, dir_fd = folder
    if _at(dir_fd, name) is None:
        try:
            if _rename(dir_fd, tmp, name, _RENAME_NOREPLACE):
                return
            if _at(dir_fd, name) is None:  # no renameat2: checked just before, not atomically
                os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
                return
        except FileExistsError:
            pass  # something appeared there during the run: judge it below
    if not _rename(dir_fd, tmp, name, _RENAME_EXCHANGE):
        why = judge(path / name, _at(dir_fd, name) == seen)
        if why is not None:
            raise OSError(errno.EEXIST, why)
        os.rename(name, tmp + ".old", src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        _remove(dir_fd, tmp + ".old")
        return
    try:
        why = judge(path / tmp, _at(dir_fd, tmp) == seen)
    except BaseException:
        _rename(dir_fd, tmp, name, _RENAME_EXCHANGE)  # what was there goes back first
        raise
    if why is not None:
        _rename(dir_fd, tmp, name, _RENAME_EXCHANGE)
        raise OSError(errno.EEXIST, why)
    _remove(dir_fd, tmp)


def _same_file(_: Path, same: bool) -> str | None:
    """A file output replaces only the file that was there when it started."""
    return None if same else "was put there during the run by something else; left as it is"


@contextmanager
def _folder(path: Path) -> Iterator[int]:
    """The folder of ``path`` (made when missing), open for the *at calls; an OSError names
    ``path``."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    try:
        yield fd
    finally:
        os.close(fd)


@contextmanager
def atomic_file(path: Path, mode: str = "w") -> Iterator[IO[Any]]:
    """The one way to write an output file: a new temporary sibling of ``path`` is opened for
    writing; when the block succeeds it is renamed into place without replacing anything but
    the regular file that was at ``path`` at the start (re-checked at the rename), so readers
    never see half a file and a failure leaves ``path`` as it was. The file's mode is 0666 less
    the umask. A name the file system would refuse is refused before anything is written; an
    OSError names ``path``, never the temporary file."""
    path = Path(path)
    problem = output_problem(path)
    if problem is not None:
        raise OSError(errno.EINVAL, problem, str(path))
    with _folder(path) as dir_fd:
        seen, tmp = _at(dir_fd, path.name), _temp_name(path.name)
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            fd = os.open(tmp, flags, 0o666, dir_fd=dir_fd)
            with os.fdopen(fd, mode) as fh:
                yield fh
            _place((path.parent, dir_fd), tmp, path.name, seen, _same_file)
        except OSError as exc:
            with suppress(OSError):
                os.unlink(tmp, dir_fd=dir_fd)
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        except BaseException:
            with suppress(OSError):
                os.unlink(tmp, dir_fd=dir_fd)
            raise


def write_file(path: Path, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` through :func:`atomic_file`."""
    with atomic_file(path, "w" if isinstance(data, str) else "wb") as fh:
        fh.write(data)
    return path


def write_json_atomic(path: Path, data: Any) -> Path:
    """Write JSON through :func:`atomic_file`."""
    with atomic_file(path) as fh:
        json.dump(data, fh, indent=2, sort_keys=False)
        fh.write("\n")
    return path


def copy_file(
    src: Path, dest: Path, *, cap: int = 0o777, advance: Callable[[int], None] | None = None
) -> None:
    """Copy ``src``'s bytes through :func:`atomic_file`: the copy's mode is ``src``'s (a hard
    link's too) within ``cap`` (0755 for a program, 0644 for data), less the umask, so it is
    never wider than the source. ``advance`` is told each block's size."""
    with open(src, "rb") as fin:
        perms = stat.S_IMODE(os.fstat(fin.fileno()).st_mode) & cap
        with atomic_file(dest, "wb") as fout:
            os.fchmod(fout.fileno(), perms & ~_umask())
            while block := fin.read(_CHUNK):
                fout.write(block)
                if advance is not None:
                    advance(len(block))


def _umask() -> int:
    """The process's umask, read without changing it where Linux tells it."""
    with suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def publish(tmp: Path, path: Path, error: type[OrtWrapperError]) -> Path:
    """Move the finished file ``tmp`` (on ``path``'s file system) to ``path``, replacing only
    a regular file there (re-checked at the rename); ``error`` names ``path`` otherwise."""

    def regular(old: Path, _: bool) -> str | None:
        return None if old.is_file() and not old.is_symlink() else "is not a regular file"

    with _folder(path) as dir_fd:
        beside = _temp_name(path.name)
        try:
            os.rename(tmp, beside, dst_dir_fd=dir_fd)
            _place((path.parent, dir_fd), beside, path.name, None, regular)
        except OSError as exc:
            with suppress(OSError):
                os.unlink(beside, dir_fd=dir_fd)
            raise error(f"{path}: {exc.strerror}; left as it is") from None
    return path


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
    (a phrase following "--out OUT ") is not an earlier output of the same step, or a name the
    file system would refuse."""
    if (problem := name_problem(out)) is not None:
        raise error(f"--out {out} {problem}; nothing was written")
    if not out.exists() and not out.is_symlink():
        if not out.parent.is_dir():
            raise error(f"--out {out}: its parent directory {out.parent} does not exist")
        return
    if out.is_symlink() or not out.is_dir():
        raise error(f"--out {out} exists and is not a directory; nothing was written")
    if any(out.iterdir()) and (why := not_earlier(out)) is not None:
        raise error(f"--out {out} {why}: refusing to replace it; nothing was written")


@contextmanager
def new_directory(
    out: Path, error: type[OrtWrapperError], not_earlier: Callable[[Path], str | None]
) -> Iterator[Path]:
    """A new empty directory beside ``out`` (same file system, mode 0777 less the umask) to
    write in. When the block succeeds it is renamed to ``out`` without replacing anything but
    an empty directory or an earlier output of the same step (``not_earlier`` as for
    :func:`check_replaceable`), judged again at the rename: a directory put there during the
    run is left as it is. When the block fails the new directory is removed. ``error`` names
    ``out`` (an ``--out`` argument)."""
    with _folder(out) as dir_fd:
        tmp = _temp_name(out.name)
        try:
            os.mkdir(tmp, 0o777, dir_fd=dir_fd)
        except OSError as exc:
            raise error(f"--out {out}: cannot write in {out.parent}: {exc.strerror}") from None
        try:
            yield out.parent / tmp
            _place((out.parent, dir_fd), tmp, out.name, None, _earlier(not_earlier))
        except OSError as exc:
            shutil.rmtree(tmp, dir_fd=dir_fd, ignore_errors=True)
            if exc.errno == errno.EEXIST and exc.filename is None:  # judged at the rename
                raise error(f"--out {out} {exc.strerror}; nothing was written") from None
            raise
        except BaseException:
            shutil.rmtree(tmp, dir_fd=dir_fd, ignore_errors=True)
            raise


def _earlier(not_earlier: Callable[[Path], str | None]) -> _Judge:
    """A directory output replaces an empty directory or an earlier output, and only a
    directory: ``not_earlier`` is asked again at the rename."""

    def judge(old: Path, _: bool) -> str | None:
        if old.is_symlink() or not old.is_dir():
            return "was put there during the run and is not a directory; left as it is"
        if any(old.iterdir()) and (why := not_earlier(old)) is not None:
            return f"changed during the run: it {why}; left as it is"
        return None

    return judge

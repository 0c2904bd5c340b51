"""The files a link would take, found and opened: named objects, archives (``.a``, ``.lib``,
``.rlib``: all ar archives) and shared libraries, and folders scanned for them; each file
that cannot be read becomes a problem of its own, so the rest is still judged.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..elf.archive import AR_MAGIC, THIN_MAGIC
from ..elf.reader import ELF_LIMIT
from ..errors import ElfError
from ..files import confined
from ..manifest import MANIFEST_RELPATH, FileKind, load_manifest
from ..untrusted import opened, read_bounded
from .load import Archive, open_archive
from .units import Unit, object_format, read_unit

__all__ = ["Inputs", "collect", "dist_inputs"]

OBJECT_LIMIT = 4 << 30  # bytes: one object or shared library read whole
# In a scanned folder, files of these suffixes that are empty or unreadable are reported;
# other unreadable files there are not link inputs (cargo's .d files, build logs).
_LINKABLE = {".a", ".lib", ".rlib", ".o", ".obj", ".so"}


@dataclass(frozen=True)
class Inputs:
    """The inputs in command-line order, and one problem per file that could not be read."""

    files: tuple[Unit | Archive, ...]
    problems: tuple[tuple[str, str], ...]


def _magic(path: Path) -> bytes:
    """The first bytes of ``path``: a regular file (a FIFO or device is refused unread)."""
    with opened(path, ElfError, limit=ELF_LIMIT) as (fh, _):
        return fh.read(64)


def _open(path: Path) -> Unit | Archive:
    """One file as a link input; ElfError saying what it is not."""
    label = str(path)
    try:
        head = _magic(path)
    except OSError as exc:
        raise ElfError(f"cannot read {path}: {exc.strerror}") from None
    if not head:
        raise ElfError(f"{path} is empty (0 bytes): not an archive or an object")
    if head.startswith(THIN_MAGIC):
        raise ElfError(f"{path} is a thin archive (it holds paths, not objects): not read")
    if head.startswith(AR_MAGIC):
        return open_archive(path, label)
    if object_format(head) is None:
        raise ElfError(f"{path} is neither an ar archive nor an object file")
    return read_unit(label, read_bounded(path, ElfError, OBJECT_LIMIT))


def _linkable(path: Path) -> bool:
    """Whether a scanned file is a link input: an ar archive or an object by its magic."""
    try:
        head = _magic(path)
    except OSError:
        return path.suffix in _LINKABLE
    if not head:
        return path.suffix in _LINKABLE
    return head.startswith((AR_MAGIC, THIN_MAGIC)) or object_format(head) is not None


def _scan(root: Path, problems: list[tuple[str, str]]) -> Iterator[Path]:
    """The link inputs under ``root``, sorted, following links but never into a folder twice
    (a loop is reported once per link that closes it)."""
    seen: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        st = os.stat(folder)
        if (st.st_dev, st.st_ino) in seen:
            problems.append((str(folder), f"{folder} leads back to a folder already scanned"))
            continue
        seen.add((st.st_dev, st.st_ino))
        entries = sorted(folder.iterdir())
        stack.extend(reversed([p for p in entries if p.is_dir()]))
        yield from (p for p in entries if _is_file(p) and _linkable(p))


def _is_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def _expand(paths: Iterable[Path], problems: list[tuple[str, str]]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            try:
                yield from _scan(path, problems)
            except OSError as exc:
                problems.append((str(path), f"cannot scan {path}: {exc.strerror}"))
        else:
            yield path


def collect(paths: Iterable[Path]) -> Inputs:
    """Open every input (folders scanned in name order); a file that cannot be read is a
    problem naming it, and the others are kept."""
    problems: list[tuple[str, str]] = []
    files: list[Unit | Archive] = []
    for path in _expand(paths, problems):
        try:
            files.append(_open(path))
        except ElfError as exc:
            problems.append((str(path), str(exc)))
        except FileNotFoundError:
            problems.append((str(path), f"{path}: no such file"))
    return Inputs(tuple(files), tuple(problems))


def dist_inputs(root: Path) -> list[Path]:
    """What a consumer links of a distribution: with our manifest, its archives and its core
    shared library (``libonnxruntime.so*``, the shortest name); without one (a Windows zip,
    another project's folder), the folder itself, scanned."""
    if not (root / MANIFEST_RELPATH).is_file():
        return [root]
    manifest = load_manifest(root)
    found = [
        confined(root, root / f.path, ElfError, "manifest entry")
        for f in manifest.files_of_kind(FileKind.ARCHIVE)
    ]
    cores = [
        f.path
        for f in manifest.files_of_kind(FileKind.SHARED)
        if Path(f.path).name.startswith("libonnxruntime.so")
    ]
    if cores:
        core = min(cores, key=lambda p: (len(Path(p).name), p))
        found.append(confined(root, root / core, ElfError, "manifest entry"))
    return found

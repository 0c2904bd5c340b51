"""Static archives (GNU ``ar`` format) and the global symbols of their ELF members.

The archive container is read here (header, symbol index, long-name table); each member's
symbols are read with pyelftools. Shared libraries' exported symbols come from ``.dynsym``.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import ElfError

__all__ = [
    "ArchiveInfo",
    "Member",
    "ObjectSymbols",
    "archive_symbols",
    "is_archive",
    "member_digests",
    "read_archive",
    "shared_library_symbols",
]

log = logging.getLogger(__name__)

AR_MAGIC = b"!<arch>\n"
THIN_MAGIC = b"!<thin>\n"
_HEADER = 60
_INDEX_NAMES = ("/", "/SYM64/")
_LONG_NAMES = "//"


@dataclass(frozen=True)
class Member:
    """One object file stored in an archive."""

    name: str
    offset: int  # of the member's data in the archive file
    size: int


@dataclass(frozen=True)
class ArchiveInfo:
    """An archive's members (in order, duplicates kept) and whether it has a symbol index."""

    path: Path
    members: tuple[Member, ...]
    has_index: bool

    def read(self, member: Member) -> bytes:
        """The bytes of ``member``."""
        with open(self.path, "rb") as fh:
            fh.seek(member.offset)
            return fh.read(member.size)


@dataclass(frozen=True)
class ObjectSymbols:
    """Global symbols an object (an archive member or a shared library) defines and needs.

    ``undefined`` holds only strong references: a weak undefined symbol makes no linker pull
    anything in.
    """

    name: str
    defined: frozenset[str]
    undefined: frozenset[str]


def is_archive(path: Path) -> bool:
    """True when ``path`` starts with the ``ar`` magic (regular or thin)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(8) in (AR_MAGIC, THIN_MAGIC)
    except OSError:
        return False


def _headers(path: Path, data: bytes) -> Iterator[tuple[str, int, int]]:
    pos = len(AR_MAGIC)
    while pos < len(data):
        header = data[pos : pos + _HEADER]
        if len(header) < _HEADER or header[58:60] != b"`\n":
            raise ElfError(f"{path}: corrupt archive member header at byte {pos}")
        try:
            size = int(header[48:58].decode("ascii").strip())
        except ValueError:
            raise ElfError(f"{path}: bad member size at byte {pos}") from None
        start = pos + _HEADER
        if start + size > len(data):
            raise ElfError(f"{path}: member at byte {pos} runs past the end of the file")
        yield header[:16].decode("ascii", "replace").rstrip(" "), start, size
        pos = start + size + (size & 1)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ElfError(f"cannot read {path}: {exc.strerror}") from None


def read_archive(path: Path | str) -> ArchiveInfo:
    """Read an archive's table of contents; ElfError when it is not a regular GNU archive."""
    path = Path(path)
    data = _read(path)
    if data.startswith(THIN_MAGIC):
        raise ElfError(f"{path} is a thin archive (it holds paths, not objects)")
    if not data.startswith(AR_MAGIC):
        raise ElfError(f"{path} is not an ar archive")
    long_names = b""
    members: list[Member] = []
    has_index = False
    for raw, start, size in _headers(path, data):
        if raw in _INDEX_NAMES:
            has_index = True
        elif raw == _LONG_NAMES:
            long_names = data[start : start + size]
        elif raw.startswith("#1/"):
            raise ElfError(f"{path} is a BSD-format archive; only the GNU format is read")
        elif raw.startswith("/") and raw[1:].isdigit():
            offset = int(raw[1:])
            end = long_names.find(b"/\n", offset)
            if end < 0:
                raise ElfError(f"{path}: member name offset {offset} is not in the name table")
            members.append(Member(long_names[offset:end].decode(), start, size))
        else:
            members.append(Member(raw.removesuffix("/"), start, size))
    return ArchiveInfo(path, tuple(members), has_index)


def member_digests(info: ArchiveInfo) -> list[tuple[str, str]]:
    """``(name, sha256)`` of every member, in order: what a member-by-member comparison uses."""
    with open(info.path, "rb") as fh:
        out = []
        for member in info.members:
            fh.seek(member.offset)
            out.append((member.name, hashlib.sha256(fh.read(member.size)).hexdigest()))
        return out


def _symbols(name: str, data: bytes, table: str) -> ObjectSymbols:
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    try:
        elf = ELFFile(io.BytesIO(data))
        section = elf.get_section_by_name(table)
    except ELFError as exc:
        raise ElfError(f"{name} is not a readable ELF object: {exc}") from None
    defined: set[str] = set()
    undefined: set[str] = set()
    for sym in section.iter_symbols() if section is not None else ():
        bind = sym["st_info"]["bind"]
        if not sym.name or bind == "STB_LOCAL" or sym["st_info"]["type"] in ("STT_FILE",):
            continue
        if sym["st_shndx"] != "SHN_UNDEF":
            defined.add(sym.name)
        elif bind != "STB_WEAK":
            undefined.add(sym.name)
    return ObjectSymbols(name, frozenset(defined), frozenset(undefined - defined))


def archive_symbols(path: Path | str) -> tuple[ObjectSymbols, ...]:
    """The global symbols of each ELF member of an archive, in member order."""
    info = read_archive(path)
    with open(info.path, "rb") as fh:
        result = []
        for member in info.members:
            fh.seek(member.offset)
            data = fh.read(member.size)
            result.append(_symbols(f"{info.path}({member.name})", data, ".symtab"))
    return tuple(result)


def shared_library_symbols(path: Path | str) -> ObjectSymbols:
    """The dynamic symbols a shared library exports and imports (its ``.dynsym``)."""
    path = Path(path)
    return _symbols(str(path), _read(path), ".dynsym")

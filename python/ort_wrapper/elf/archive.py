"""Static archives and the global symbols of their members.

The archive container is read here, in both formats: GNU (``/`` or ``/SYM64/`` symbol index,
``//`` long-name table) and BSD/darwin (``__.SYMDEF`` index, ``#1/<len>`` names stored in front
of the member's data). ELF members' symbols are read with pyelftools; Mach-O members' (darwin)
with LLVM's ``llvm-nm`` (``macho``). Shared libraries' exported symbols come from ``.dynsym``.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import BinaryIO

from ..errors import ElfError

__all__ = [
    "ArchiveInfo",
    "Member",
    "ObjectFormat",
    "ObjectSymbols",
    "archive_format",
    "archive_symbols",
    "cstring",
    "elf_object_symbols",
    "iter_members",
    "member_digests",
    "read_archive",
    "read_index",
    "shared_library_symbols",
]

log = logging.getLogger(__name__)

AR_MAGIC = b"!<arch>\n"
THIN_MAGIC = b"!<thin>\n"
_HEADER = 60
_INDEX_NAMES = ("/", "/SYM64/")
_BSD_INDEX_PREFIX = "__.SYMDEF"  # __.SYMDEF, __.SYMDEF SORTED, __.SYMDEF_64 (darwin)
_BSD_NAME = "#1/"  # the name's length follows; the name is the first bytes of the data
_LONG_NAMES = "//"
_ELF_MAGIC = b"\x7fELF"
_MACHO_MAGICS = (b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xfe\xed\xfa\xcf", b"\xfe\xed\xfa\xce")


class ObjectFormat(Enum):
    """What an archive's members are: ELF (Linux) or Mach-O (darwin)."""

    ELF = "elf"
    MACHO = "macho"


@dataclass(frozen=True)
class Member:
    """One object file stored in an archive."""

    name: str
    offset: int  # of the member's data in the archive file
    size: int
    header: int = 0  # of the member's header: what a symbol index points at


@dataclass(frozen=True)
class ArchiveInfo:
    """An archive's members (in order, duplicates kept) and whether it has a symbol index."""

    path: Path
    members: tuple[Member, ...]
    has_index: bool
    index: tuple[str, int, int] = ("", 0, 0)  # the first index member: (name, offset, size)


@dataclass(frozen=True)
class ObjectSymbols:
    """Global symbols an object (an archive member or a shared library) defines and needs.

    ``undefined`` holds only strong references: a weak undefined symbol makes no linker pull
    anything in.
    """

    name: str
    defined: frozenset[str]
    undefined: frozenset[str]


def cstring(table: bytes, offset: int) -> str:
    """The NUL-ended string at ``offset`` of a string table (to its end when unended)."""
    end = table.find(b"\0", offset)
    return table[offset : end if end >= 0 else len(table)].decode("utf-8", "replace")


def _headers(path: Path, fh: BinaryIO, end: int) -> Iterator[tuple[str, int, int]]:
    """``(raw name, data offset, size)`` of each member, read header by header (the data
    itself is skipped, so a table of contents costs a few reads, not the whole file)."""
    pos = len(AR_MAGIC)
    while pos < end:
        fh.seek(pos)
        header = fh.read(_HEADER)
        if len(header) < _HEADER or header[58:60] != b"`\n":
            raise ElfError(f"{path}: corrupt archive member header at byte {pos}")
        try:
            size = int(header[48:58].decode("ascii").strip())
        except ValueError:
            raise ElfError(f"{path}: bad member size at byte {pos}") from None
        start = pos + _HEADER
        if start + size > end:
            raise ElfError(f"{path}: member at byte {pos} runs past the end of the file")
        yield header[:16].decode("ascii", "replace").rstrip(" "), start, size
        pos = start + size + (size & 1)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ElfError(f"cannot read {path}: {exc.strerror}") from None


def _open(path: Path) -> BinaryIO:
    try:
        return open(path, "rb")
    except OSError as exc:
        raise ElfError(f"cannot read {path}: {exc.strerror}") from None


def _bsd_name(path: Path, fh: BinaryIO, raw: str, start: int, size: int) -> tuple[str, int, int]:
    """A BSD ``#1/<len>`` member's name (the first ``len`` bytes of its data, NUL-padded) and
    where its real data starts and how long it is."""
    try:
        length = int(raw[len(_BSD_NAME) :])
    except ValueError:
        raise ElfError(f"{path}: bad BSD member name {raw!r} at byte {start}") from None
    if not 0 < length <= size:
        raise ElfError(f"{path}: BSD member name length {length} at byte {start} is not in it")
    fh.seek(start)
    name = fh.read(length).rstrip(b"\0").decode("utf-8", "replace")
    return name, start + length, size - length


def read_archive(path: Path | str) -> ArchiveInfo:
    """Read an archive's table of contents (GNU or BSD format); ElfError when it is not an
    archive of objects."""
    path = Path(path)
    with _open(path) as fh:
        magic = fh.read(len(AR_MAGIC))
        if magic == THIN_MAGIC:
            raise ElfError(f"{path} is a thin archive (it holds paths, not objects)")
        if magic != AR_MAGIC:
            raise ElfError(f"{path} is not an ar archive")
        end = os.fstat(fh.fileno()).st_size
        long_names = b""
        members: list[Member] = []
        indexes: list[tuple[str, int, int]] = []
        for raw, start, size in _headers(path, fh, end):
            header = start - _HEADER
            if raw.startswith(_BSD_NAME):
                name, start, size = _bsd_name(path, fh, raw, start, size)
                if name.startswith(_BSD_INDEX_PREFIX):
                    indexes.append((name, start, size))
                else:
                    members.append(Member(name, start, size, header))
            elif raw in _INDEX_NAMES or raw.startswith(_BSD_INDEX_PREFIX):
                indexes.append((raw, start, size))
            elif raw == _LONG_NAMES:
                fh.seek(start)
                long_names = fh.read(size)
            elif raw.startswith("/") and raw[1:].isdigit():
                name = _long_name(path, long_names, int(raw[1:]))
                members.append(Member(name, start, size, header))
            else:
                members.append(Member(raw.removesuffix("/"), start, size, header))
    first = indexes[0] if indexes else ("", 0, 0)
    return ArchiveInfo(path, tuple(members), bool(indexes), first)


def _long_name(path: Path, table: bytes, offset: int) -> str:
    """A name from the ``//`` table: ended by ``/\\n`` (GNU) or a NUL byte (MSVC's lib.exe)."""
    ends = [i for i in (table.find(b"/\n", offset), table.find(b"\0", offset)) if i >= 0]
    if offset >= len(table) or not ends:
        raise ElfError(f"{path}: member name offset {offset} is not in the name table")
    return table[offset : min(ends)].decode("utf-8", "replace")


def _index_entries(name: str, data: bytes) -> tuple[list[int], list[str]] | None:
    """The member header offsets and the symbol names of one index member's data, in its
    order: GNU ``/`` (32-bit big-endian) and ``/SYM64/``, BSD ``__.SYMDEF`` (32-bit
    little-endian ``ranlib`` pairs) and ``__.SYMDEF_64``; None when it is too short for what
    its counts say."""
    if name in _INDEX_NAMES:
        width = 8 if name == "/SYM64/" else 4
        count = int.from_bytes(data[:width], "big")
        table = data[width : width + count * width]
        if len(table) < count * width:
            return None
        offsets = list(struct.unpack(f">{count}{'Q' if width == 8 else 'I'}", table))
        names = data[width + count * width :].split(b"\0")
        if len(names) < count:
            return None
        return offsets, [n.decode("utf-8", "replace") for n in names[:count]]
    width = 8 if name.endswith("_64") else 4
    size = int.from_bytes(data[:width], "little")
    pairs = data[width : width + size - size % (2 * width)]
    strings = data[2 * width + size :]
    if len(pairs) < size - size % (2 * width) or len(data) < 2 * width + size:
        return None
    values = struct.unpack(f"<{len(pairs) // width}{'Q' if width == 8 else 'I'}", pairs)
    return list(values[1::2]), [cstring(strings, strx) for strx in values[0::2]]


def read_index(info: ArchiveInfo) -> tuple[tuple[str, Member], ...]:
    """The archive's symbol index, as a linker reads it: ``(symbol, member)`` pairs in index
    order (what a link loads a member for); () without an index. ElfError when the index is
    cut short or points at something that is not a member's header."""
    kind, start, size = info.index
    if not kind:
        return ()
    with _open(info.path) as fh:
        fh.seek(start)
        data = fh.read(size)
    parsed = _index_entries(kind, data)
    if parsed is None:
        raise ElfError(f"{info.path}: its symbol index ({kind}) is cut short")
    by_header = {m.header: m for m in info.members}
    offsets, names = parsed
    stray = next((i for i, offset in enumerate(offsets) if offset not in by_header), None)
    if stray is not None:
        raise ElfError(
            f"{info.path}: its symbol index says {names[stray]!r} is in a member at byte "
            f"{offsets[stray]}, where no member starts (rebuild the index: llvm-ranlib, or "
            "llvm-lib/lib.exe)"
        )
    entries = [(name, by_header[offset]) for name, offset in zip(names, offsets, strict=True)]
    return tuple(entries)


def iter_members(info: ArchiveInfo) -> Iterator[tuple[Member, bytes]]:
    """Each member of ``info`` with its bytes, in order, one member in memory at a time."""
    with _open(info.path) as fh:
        for member in info.members:
            fh.seek(member.offset)
            yield member, fh.read(member.size)


def archive_format(info: ArchiveInfo) -> ObjectFormat:
    """Whether ``info``'s members are ELF or Mach-O objects (from the first member's magic);
    ElfError for an empty archive or members of another kind."""
    with _open(info.path) as fh:
        for member in info.members:
            fh.seek(member.offset)
            magic = fh.read(4)
            if magic == _ELF_MAGIC:
                return ObjectFormat.ELF
            if magic in _MACHO_MAGICS:
                return ObjectFormat.MACHO
            raise ElfError(f"{info.path}({member.name}) is neither an ELF nor a Mach-O object")
    raise ElfError(f"{info.path} has no members")


def member_digests(info: ArchiveInfo) -> list[tuple[str, str]]:
    """``(name, sha256)`` of every member, in order: what a member-by-member comparison uses."""
    return [(m.name, hashlib.sha256(data).hexdigest()) for m, data in iter_members(info)]


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


def elf_object_symbols(name: str, data: bytes, table: str = ".symtab") -> ObjectSymbols:
    """The global symbols one ELF file's ``table`` defines and strongly needs (``.symtab`` for
    an object, ``.dynsym`` for a shared library)."""
    return _symbols(name, data, table)


def archive_symbols(path: Path | str) -> tuple[ObjectSymbols, ...]:
    """The global symbols of each member of an archive, in member order (Mach-O names
    without the leading underscore the C ABI adds there, as in ELF); () for an empty one
    (glibc's libpthread.a, for one)."""
    info = read_archive(path)
    if info.members and archive_format(info) is ObjectFormat.MACHO:
        from .macho import macho_archive_symbols

        return tuple(ObjectSymbols(*found) for found in macho_archive_symbols(info.path))
    return tuple(
        _symbols(f"{info.path}({member.name})", data, ".symtab")
        for member, data in iter_members(info)
    )


def shared_library_symbols(path: Path | str) -> ObjectSymbols:
    """The dynamic symbols a shared library exports and imports (an ELF object's ``.dynsym``,
    a Mach-O dylib's external symbols)."""
    path = Path(path)
    data = _read(path)
    if data[:4] in _MACHO_MAGICS:
        from .macho import macho_library_symbols

        return ObjectSymbols(*macho_library_symbols(path))
    return _symbols(str(path), data, ".dynsym")

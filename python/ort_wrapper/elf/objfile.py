"""64-bit little-endian ELF relocatable objects' link facts read by hand: global symbols and the
relocations of allocated sections.

pyelftools builds a Python object per symbol and relocation, which costs seconds for the
hundreds of thousands a large archive holds; the fixed-size records here are unpacked in bulk
(``struct.iter_unpack``). Other ELF classes and byte orders are left to pyelftools
(``archive.elf_object_symbols``). Every offset is checked against the object's size.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from ..errors import ElfError
from .archive import cstring

__all__ = ["ElfObject", "Relocation", "is_elf64_le_object", "read_elf_object"]

_SHT_SYMTAB, _SHT_RELA = 2, 4
_SHF_ALLOC = 0x2
_STB_GLOBAL, _STB_WEAK, _STB_GNU_UNIQUE = 1, 2, 10
_STT_SECTION, _STT_FILE = 3, 4
_SHDR = struct.Struct("<IIQQQQIIQQ")
_SYM = struct.Struct("<IBBHQQ")
_RELA = struct.Struct("<QQq")


class Relocation(NamedTuple):
    """One relocation: its type number, and the symbol it refers to (its name, or the
    section's name for a section symbol) with whether that symbol is preemptible (global or
    weak with default visibility)."""

    kind: int
    target: str
    preemptible: bool


@dataclass(frozen=True)
class ElfObject:
    """One relocatable object's machine, global symbols and allocated-section relocations."""

    machine: int
    defined: tuple[str, ...]
    undefined: tuple[str, ...]  # strong references only
    relocations: tuple[Relocation, ...]


def is_elf64_le_object(data: bytes) -> bool:
    """Whether ``data`` is a 64-bit little-endian ELF relocatable object (ET_REL)."""
    return data[:6] == b"\x7fELF\x02\x01" and len(data) >= 64 and data[16:18] == b"\x01\x00"


def _check(label: str, data: bytes, start: int, size: int, what: str) -> None:
    if start < 0 or size < 0 or start + size > len(data):
        raise ElfError(f"{label}: truncated ELF object ({what} at byte {start}, {size} bytes)")


def _sections(label: str, data: bytes) -> list[tuple[int, ...]]:
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    if shnum and shentsize != _SHDR.size:
        raise ElfError(f"{label}: section header size {shentsize}, expected {_SHDR.size}")
    _check(label, data, shoff, shnum * _SHDR.size, "section headers")
    sections = list(_SHDR.iter_unpack(data[shoff : shoff + shnum * _SHDR.size]))
    for header in sections:
        if header[1] != 8:  # SHT_NOBITS occupies no bytes
            _check(label, data, header[4], header[5], "a section")
    return sections


def _table(data: bytes, section: tuple[int, ...], record: struct.Struct) -> Iterator[tuple]:
    start, size = section[4], section[5]
    return record.iter_unpack(data[start : start + size - size % record.size])


def _symbols(data: bytes, sections: list[tuple[int, ...]], symtab: tuple[int, ...]) -> list:
    """(name, bind, type, other, shndx) per symbol of ``symtab``, in order."""
    link = symtab[6]
    if link >= len(sections):
        raise ElfError("symbol table's string table is missing")
    strtab = sections[link]
    strings = data[strtab[4] : strtab[4] + strtab[5]]
    return [
        (cstring(strings, n), info >> 4, info & 0xF, other, shndx)
        for n, info, other, shndx, _, _ in _table(data, symtab, _SYM)
    ]


def _globals(symbols: list) -> tuple[tuple[str, ...], tuple[str, ...]]:
    defined, undefined = [], []
    for name, bind, kind, _, shndx in symbols:
        if not name or bind not in (_STB_GLOBAL, _STB_WEAK, _STB_GNU_UNIQUE) or kind == _STT_FILE:
            continue
        if shndx != 0:
            defined.append(name)
        elif bind != _STB_WEAK:
            undefined.append(name)
    seen = set(defined)
    return tuple(defined), tuple(n for n in undefined if n not in seen)


def _relocations(
    data: bytes, sections: list[tuple[int, ...]], symbols: list, section_names: list[str]
) -> tuple[Relocation, ...]:
    targets = [
        (
            section_names[shndx] if kind == _STT_SECTION and shndx < len(section_names) else name,
            bind in (_STB_GLOBAL, _STB_WEAK) and other & 0x3 == 0,
        )
        for name, bind, kind, other, shndx in symbols
    ]
    found = []
    for section in sections:
        if section[1] != _SHT_RELA or section[7] >= len(sections):
            continue
        if not sections[section[7]][2] & _SHF_ALLOC:  # debug info is never loaded
            continue
        for _, info, _ in _table(data, section, _RELA):
            index = info >> 32
            if index >= len(targets):
                raise ElfError(f"relocation refers to symbol {index} of {len(targets)}")
            found.append(Relocation(info & 0xFFFFFFFF, *targets[index]))
    return tuple(found)


def read_elf_object(label: str, data: bytes) -> ElfObject:
    """The link facts of one 64-bit little-endian relocatable ELF object (``label`` names it
    in errors)."""
    if not is_elf64_le_object(data):
        raise ElfError(f"{label}: not a 64-bit little-endian ELF relocatable object")
    (machine,) = struct.unpack_from("<H", data, 18)
    sections = _sections(label, data)
    (shstrndx,) = struct.unpack_from("<H", data, 0x3E)
    names = b""
    if shstrndx < len(sections):
        names = data[sections[shstrndx][4] : sections[shstrndx][4] + sections[shstrndx][5]]
    section_names = [cstring(names, s[0]) for s in sections]
    symtab = next((s for s in sections if s[1] == _SHT_SYMTAB), None)
    try:
        symbols = _symbols(data, sections, symtab) if symtab else []
        relocations = _relocations(data, sections, symbols, section_names)
    except ElfError as exc:
        raise ElfError(f"{label}: malformed ELF object ({exc})") from None
    defined, undefined = _globals(symbols)
    return ElfObject(machine, defined, undefined, relocations)

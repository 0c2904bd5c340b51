"""Mach-O objects' link facts read by hand: the file type, the external symbols (``LC_SYMTAB``)
and the minimum OS version (``LC_BUILD_VERSION``, or the older ``LC_VERSION_MIN_*``).

Names lose the leading underscore the C ABI adds on darwin, as in ``macho.py``, so C++ names
read as on ELF. Every offset is checked against the object's size.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..errors import ElfError
from .archive import cstring

__all__ = ["MachoObject", "read_macho"]

_MAGICS = {
    b"\xcf\xfa\xed\xfe": ("<", 32, 16),  # 64-bit little-endian: header size, nlist size
    b"\xce\xfa\xed\xfe": ("<", 28, 12),
    b"\xfe\xed\xfa\xcf": (">", 32, 16),
    b"\xfe\xed\xfa\xce": (">", 28, 12),
}
_LC_SYMTAB, _LC_BUILD_VERSION = 0x2, 0x32
_LC_VERSION_MIN = {0x24: "macos", 0x25: "ios", 0x2F: "tvos", 0x30: "watchos"}
_PLATFORMS = {1: "macos", 2: "ios", 3: "tvos", 4: "watchos", 6: "maccatalyst", 7: "ios-simulator"}
_MH_DYLIB = 6
_N_STAB, _N_TYPE, _N_EXT, _N_UNDF, _N_WEAK_REF = 0xE0, 0x0E, 0x01, 0x0, 0x0040


@dataclass(frozen=True)
class MachoObject:
    """One Mach-O file's link facts."""

    dylib: bool
    defined: tuple[str, ...]
    undefined: tuple[str, ...]  # strong references only
    platform: str = ""
    min_os: tuple[int, int, int] | None = None


def _check(label: str, data: bytes, start: int, size: int, what: str) -> None:
    if start < 0 or size < 0 or start + size > len(data):
        raise ElfError(f"{label}: truncated Mach-O file ({what} at byte {start}, {size} bytes)")


def _version(value: int) -> tuple[int, int, int]:
    """Mach-O's xxxx.yy.zz nibble encoding."""
    return value >> 16, (value >> 8) & 0xFF, value & 0xFF


def _symbols(
    label: str, data: bytes, order: str, width: int, symtab: tuple[int, int, int, int]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    symoff, nsyms, stroff, strsize = symtab
    _check(label, data, symoff, nsyms * width, "symbol table")
    _check(label, data, stroff, strsize, "string table")
    strings = data[stroff : stroff + strsize]
    defined, undefined = [], []
    fmt = order + ("IBBHQ" if width == 16 else "IBBHI")
    for strx, kind, _sect, desc, value in struct.iter_unpack(
        fmt, data[symoff : symoff + nsyms * width]
    ):
        if kind & _N_STAB or not kind & _N_EXT:
            continue
        name = cstring(strings, strx).removeprefix("_")
        if kind & _N_TYPE == _N_UNDF and value == 0:
            if not desc & _N_WEAK_REF:
                undefined.append(name)
        else:
            defined.append(name)
    return tuple(defined), tuple(undefined)


def read_macho(label: str, data: bytes) -> MachoObject:
    """The link facts of one Mach-O object or dylib (``label`` names it in errors)."""
    layout = _MAGICS.get(data[:4])
    if layout is None:
        raise ElfError(f"{label}: not a Mach-O file (fat files are not read)")
    order, header, width = layout
    _check(label, data, 0, header, "header")
    filetype, ncmds, sizeofcmds = struct.unpack_from(order + "III", data, 12)
    _check(label, data, header, sizeofcmds, "load commands")
    symtab, platform, min_os = None, "", None
    at = header
    for _ in range(ncmds):
        _check(label, data, at, 8, "load command")
        cmd, size = struct.unpack_from(order + "II", data, at)
        _check(label, data, at, max(size, 8), "load command")
        if cmd == _LC_SYMTAB and size >= 24:
            symtab = struct.unpack_from(order + "IIII", data, at + 8)
        elif cmd == _LC_BUILD_VERSION and size >= 16:
            code, minos = struct.unpack_from(order + "II", data, at + 8)
            platform, min_os = _PLATFORMS.get(code, str(code)), _version(minos)
        elif cmd in _LC_VERSION_MIN and size >= 16:
            platform = _LC_VERSION_MIN[cmd]
            min_os = _version(struct.unpack_from(order + "I", data, at + 8)[0])
        at += max(size, 8)
    defined, undefined = _symbols(label, data, order, width, symtab) if symtab else ((), ())
    return MachoObject(filetype == _MH_DYLIB, defined, undefined, platform, min_os)

"""Windows objects' link facts read by hand: COFF (and bigobj) headers, the symbol table and the
``.drectve`` section's linker directives; short import objects; LLVM bitcode and MSVC ``/GL``
objects recognised (their contents are not read).

Only the few fields a link decision needs are read (no library reads both the objects and
the ``.lib`` archives that hold them, and these reads cost microseconds per member); every
offset is checked against the object's size, so a truncated object is an error naming it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import Enum

from ..errors import ElfError
from .archive import cstring

__all__ = ["CoffKind", "CoffObject", "Directives", "coff_kind", "parse_directives", "read_coff"]

MACHINES = {0x8664: "x86-64", 0x14C: "x86", 0xAA64: "arm64", 0x1C4: "arm", 0xA641: "arm64ec"}
_BIGOBJ_CLSID = bytes.fromhex("c7a1bad1eebaa94baf20faf66aa4dcb8")
_BITCODE_MAGICS = (b"BC\xc0\xde", b"\xde\xc0\x17\x0b")
_EXTERNAL, _WEAK_EXTERNAL = 2, 105
_IMPORT_CODE = 0


class CoffKind(Enum):
    """What a Windows object file is."""

    COFF = "coff"
    BIGOBJ = "bigobj"
    IMPORT = "import"  # a short import object: one symbol of one DLL
    BITCODE = "bitcode"  # LLVM bitcode (clang -flto): directives not read here
    ANONYMOUS = "anonymous"  # MSVC /GL (LTCG) and other anonymous objects: MSVC-only format


@dataclass(frozen=True)
class Directives:
    """The linker options an object's ``.drectve`` section carries, as a link reads them."""

    mismatch: tuple[tuple[str, str], ...] = ()  # /FAILIFMISMATCH:"key=value", in order
    defaultlibs: tuple[str, ...] = ()  # /DEFAULTLIB names, lower case, without ".lib"
    includes: tuple[str, ...] = ()  # /INCLUDE symbols: undefined as if referenced


@dataclass(frozen=True)
class CoffObject:
    """One Windows object's link facts; ``defined``/``undefined`` keep symbol-table order."""

    kind: CoffKind
    machine: str
    defined: tuple[str, ...] = ()
    undefined: tuple[str, ...] = ()
    directives: Directives = field(default_factory=Directives)
    dll: str = ""  # an import object's DLL


def coff_kind(data: bytes) -> CoffKind | None:
    """The kind of Windows object ``data`` is, from its first bytes; None when it is none."""
    if data[:4] in _BITCODE_MAGICS:
        return CoffKind.BITCODE
    if len(data) < 20:
        return None
    sig1, sig2, version, _machine = struct.unpack_from("<HHHH", data)
    if sig1 == 0 and sig2 == 0xFFFF:
        if version == 0:
            return CoffKind.IMPORT
        if version >= 2 and data[12:28] == _BIGOBJ_CLSID:
            return CoffKind.BIGOBJ
        return CoffKind.ANONYMOUS
    return CoffKind.COFF if sig1 in MACHINES else None


def _tokens(text: str) -> list[str]:
    """Split a directive string as a command line: whitespace outside double quotes."""
    out, word, quoted, started = [], [], False, False
    for ch in text:
        if ch == '"':
            quoted, started = not quoted, True
        elif ch.isspace() and not quoted:
            if started:
                out.append("".join(word))
            word, started = [], False
        else:
            word.append(ch)
            started = True
    if started:
        out.append("".join(word))
    return out


def parse_directives(text: str) -> Directives:
    """The options of a ``.drectve`` string that decide a link (others are ignored)."""
    mismatch, libs, includes = [], [], []
    for token in _tokens(text.lstrip("\ufeff")):
        option, _, value = token.partition(":")
        option = option.lstrip("/-").lower()
        if option == "failifmismatch" and "=" in value:
            key, _, val = value.partition("=")
            mismatch.append((key, val))
        elif option == "defaultlib" and value:
            libs.append(value.lower().removesuffix(".lib"))
        elif option == "include" and value:
            includes.append(value)
    return Directives(tuple(mismatch), tuple(libs), tuple(includes))


def _check(label: str, data: bytes, start: int, size: int, what: str) -> None:
    if start < 0 or size < 0 or start + size > len(data):
        raise ElfError(
            f"{label}: truncated COFF object ({what} at byte {start}, {size} bytes, "
            f"past its end at {len(data)})"
        )


def _import(label: str, data: bytes) -> CoffObject:
    """A short import object: ``__imp_<name>`` (and ``<name>`` for code) from one DLL."""
    machine, _, size, _, types = struct.unpack_from("<HIIHH", data, 6)
    _check(label, data, 20, size, "import names")
    parts = data[20 : 20 + size].split(b"\0")
    if len(parts) < 2:
        raise ElfError(f"{label}: import object without a symbol and a DLL name")
    name, dll = parts[0].decode("utf-8", "replace"), parts[1].decode("utf-8", "replace")
    defined = (f"__imp_{name}", name) if types & 0x3 == _IMPORT_CODE else (f"__imp_{name}",)
    return CoffObject(CoffKind.IMPORT, MACHINES.get(machine, hex(machine)), defined, dll=dll)


def _layout(label: str, data: bytes, kind: CoffKind) -> tuple[int, int, int, int, int, int]:
    """(machine, sections, section table offset, symbol table offset, symbols, symbol size)."""
    if kind is CoffKind.BIGOBJ:
        _check(label, data, 0, 56, "bigobj header")
        machine = struct.unpack_from("<H", data, 6)[0]
        nsec, symtab, nsym = struct.unpack_from("<III", data, 44)
        return machine, nsec, 56, symtab, nsym, 20
    machine, nsec, _, symtab, nsym, opt = struct.unpack_from("<HHIIIH", data)
    return machine, nsec, 20 + opt, symtab, nsym, 18


def _strings(label: str, data: bytes, symtab: int, nsym: int, width: int) -> bytes:
    start = symtab + nsym * width
    _check(label, data, symtab, nsym * width + 4, "symbol table")
    size = struct.unpack_from("<I", data, start)[0]
    _check(label, data, start, size, "string table")
    return data[start : start + size]


def _name(raw: bytes, strings: bytes) -> str:
    if raw[:4] == b"\0\0\0\0":
        offset = struct.unpack_from("<I", raw, 4)[0]
        return cstring(strings, offset)
    return raw.rstrip(b"\0").decode("utf-8", "replace")


def _symbols(
    data: bytes, symtab: int, nsym: int, width: int, strings: bytes
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """External symbols defined and (strongly) undefined, in table order; a weak external
    (an alias) makes no link load a member, as an undefined common does not either."""
    secfmt = "<i" if width == 20 else "<h"
    defined, undefined = [], []
    i = 0
    while i < nsym:
        at = symtab + i * width
        value = struct.unpack_from("<I", data, at + 8)[0]
        section = struct.unpack_from(secfmt, data, at + 12)[0]
        storage, aux = data[at + width - 2], data[at + width - 1]
        if storage == _EXTERNAL:
            name = _name(data[at : at + 8], strings)
            (undefined if section == 0 and value == 0 else defined).append(name)
        elif storage == _WEAK_EXTERNAL:
            defined.append(_name(data[at : at + 8], strings))
        i += 1 + aux
    return tuple(defined), tuple(u for u in undefined if u not in set(defined))


def _drectve(label: str, data: bytes, nsec: int, table: int, strings: bytes) -> Directives:
    _check(label, data, table, nsec * 40, "section table")
    texts = []
    for n in range(nsec):
        at = table + n * 40
        raw = data[at : at + 8]
        name = raw.rstrip(b"\0")
        if name.startswith(b"/") and name[1:].isdigit():
            name = cstring(strings, int(name[1:])).encode()
        if name != b".drectve":
            continue
        size, offset = struct.unpack_from("<II", data, at + 16)
        _check(label, data, offset, size, ".drectve section")
        texts.append(data[offset : offset + size].decode("utf-8", "replace"))
    return parse_directives(" ".join(texts))


def read_coff(label: str, data: bytes) -> CoffObject:
    """The link facts of one Windows object (``label`` names it in errors: ``x.lib(a.obj)``);
    bitcode and anonymous (/GL) objects come back without symbols or directives."""
    kind = coff_kind(data)
    if kind is None:
        raise ElfError(f"{label}: not a COFF object, import object or LLVM bitcode")
    if kind is CoffKind.IMPORT:
        return _import(label, data)
    if kind in (CoffKind.BITCODE, CoffKind.ANONYMOUS):
        machine = "" if kind is CoffKind.BITCODE else MACHINES.get(data[6] | data[7] << 8, "")
        return CoffObject(kind, machine)
    machine, nsec, table, symtab, nsym, width = _layout(label, data, kind)
    strings = _strings(label, data, symtab, nsym, width) if nsym else b""
    defined, undefined = _symbols(data, symtab, nsym, width, strings)
    directives = _drectve(label, data, nsec, table, strings)
    undefined = undefined + tuple(s for s in directives.includes if s not in defined)
    return CoffObject(kind, MACHINES.get(machine, hex(machine)), defined, undefined, directives)

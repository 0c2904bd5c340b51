"""One object's link facts as link-check judges them: a :class:`Unit` read from an object's
bytes (COFF, Mach-O and 64-bit ELF objects by hand; other ELF files with pyelftools),
whether it stands alone or is an archive member.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from enum import StrEnum

from ..elf.archive import elf_object_symbols
from ..elf.bitcode import bitcode_linker_options, bitcode_symbols
from ..elf.coff import CoffKind, CoffObject, coff_kind, parse_directives, read_coff
from ..elf.machofile import read_macho
from ..elf.objfile import ElfObject, is_elf64_le_object, read_elf_object
from ..errors import ElfError

__all__ = [
    "CxxRuntime",
    "Format",
    "Relocations",
    "Unit",
    "cxx_runtimes",
    "object_format",
    "read_unit",
]

_ELF = b"\x7fELF"
_MACHO = (b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xfe\xed\xfa\xcf", b"\xfe\xed\xfa\xce")
# x86-64 relocation types a position-independent link refuses (the ELF psABI's numbers)
_ABS32 = {10: "R_X86_64_32", 11: "R_X86_64_32S"}
_PC32, _TPOFF32 = 2, 23
_EM_X86_64 = 62
_ANONYMOUS = "an MSVC /GL (LTCG) or other anonymous object: only MSVC reads its contents"


class Format(StrEnum):
    """An object's file format."""

    COFF = "coff"
    ELF = "elf"
    MACHO = "macho"


class CxxRuntime(StrEnum):
    """The C++ standard library an object's symbols were compiled against."""

    LIBCXX = "libc++ (std::__1)"
    LIBSTDCXX = "libstdc++ (std::__cxx11)"
    LIBSTDCXX_OLD = "libstdc++ old string ABI (_GLIBCXX_USE_CXX11_ABI=0)"


@dataclass(frozen=True)
class Relocations:
    """An ELF object's relocations in allocated sections that a position-independent link
    refuses: one example (type, against what) per kind, empty when there is none."""

    absolute: tuple[str, str] | None = None  # R_X86_64_32/32S: refused by -pie and -shared
    preemptible_pc32: tuple[str, str] | None = None  # PC32 to a default-visibility global
    local_exec_tls: tuple[str, str] | None = None  # TPOFF32: refused by -shared


@dataclass(frozen=True)
class Unit:
    """One object a link may load: its label (``lib(member)`` for a member), its format, the
    external symbols it defines and strongly needs (in table order for COFF), and its facts."""

    label: str
    format: Format
    defined: tuple[str, ...]
    undefined: tuple[str, ...]
    coff: CoffObject | None = None
    relocations: Relocations | None = None
    shared: bool = False  # an ELF shared library: always linked whole, never a member
    opaque: str = ""  # why its symbols and options are unknown ("" when they were read)
    min_os: tuple[str, tuple[int, int, int]] | None = None  # Mach-O: (platform, version)


def object_format(data: bytes) -> Format | None:
    """The format of an object from its first bytes; None when it is no object."""
    if data[:4] == _ELF:
        return Format.ELF
    if data[:4] in _MACHO:
        return Format.MACHO
    return Format.COFF if coff_kind(data) is not None else None


def cxx_runtimes(names: tuple[str, ...]) -> frozenset[CxxRuntime]:
    """The C++ standard libraries ``names`` (mangled symbols) belong to."""
    found = set()
    for name in names:
        if "St3__1" in name:
            found.add(CxxRuntime.LIBCXX)
        elif "St7__cxx11" in name:
            found.add(CxxRuntime.LIBSTDCXX)
        elif name.startswith(("_ZNSs", "_ZNKSs", "_ZNSbIw", "_ZNKSbIw")):
            found.add(CxxRuntime.LIBSTDCXX_OLD)
    return frozenset(found)


def _refused(obj: ElfObject) -> Relocations | None:
    """The first relocation of each kind a position-independent link refuses, for x86-64
    objects (None for other machines: not judged)."""
    if obj.machine != _EM_X86_64:
        return None
    found: dict[str, tuple[str, str]] = {}
    for reloc in obj.relocations:
        if reloc.kind in _ABS32:
            found.setdefault("absolute", (_ABS32[reloc.kind], reloc.target))
        elif reloc.kind == _TPOFF32:
            found.setdefault("tls", ("R_X86_64_TPOFF32", reloc.target))
        elif reloc.kind == _PC32 and reloc.preemptible:
            found.setdefault("pc32", ("R_X86_64_PC32", reloc.target))
    return Relocations(found.get("absolute"), found.get("pc32"), found.get("tls"))


def _elf_unit(label: str, data: bytes) -> Unit:
    """A relocatable object read by hand (64-bit little-endian) or its symbols through
    pyelftools (other classes, and shared libraries' ``.dynsym``)."""
    if is_elf64_le_object(data):
        obj = read_elf_object(label, data)
        return Unit(label, Format.ELF, obj.defined, obj.undefined, relocations=_refused(obj))
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    try:
        kind = ELFFile(io.BytesIO(data))["e_type"]
        if kind not in ("ET_REL", "ET_DYN"):
            raise ElfError(f"{label}: an ELF {kind} file, not an object or a shared library")
        shared = kind == "ET_DYN"
        symbols = elf_object_symbols(label, data, ".dynsym" if shared else ".symtab")
    except (ELFError, ValueError, KeyError, AttributeError, TypeError, OverflowError) as exc:
        raise ElfError(f"{label}: truncated or malformed ELF file ({exc})") from None
    defined, undefined = tuple(sorted(symbols.defined)), tuple(sorted(symbols.undefined))
    return Unit(label, Format.ELF, defined, undefined, shared=shared)


def _bitcode_unit(label: str, data: bytes, obj: CoffObject) -> Unit:
    """A bitcode object read with LLVM's tools; opaque, saying why, when they are missing."""
    try:
        defined, undefined = bitcode_symbols(label, data)
        directives = parse_directives(bitcode_linker_options(label, data))
    except ElfError as exc:
        return Unit(label, Format.COFF, (), (), coff=obj, opaque=f"LLVM bitcode, not read: {exc}")
    undefined += tuple(s for s in directives.includes if s not in defined)
    obj = replace(obj, defined=defined, undefined=undefined, directives=directives)
    return Unit(label, Format.COFF, defined, undefined, coff=obj)


def read_unit(label: str, data: bytes) -> Unit:
    """The link facts of one object (``label`` names it in errors); ElfError for bytes that
    are no object this reads."""
    fmt = object_format(data)
    if fmt is Format.COFF:
        obj = read_coff(label, data)
        if obj.kind is CoffKind.BITCODE:
            return _bitcode_unit(label, data, obj)
        opaque = _ANONYMOUS if obj.kind is CoffKind.ANONYMOUS else ""
        return Unit(label, fmt, obj.defined, obj.undefined, coff=obj, opaque=opaque)
    if fmt is Format.ELF:
        return _elf_unit(label, data)
    if fmt is Format.MACHO:
        obj = read_macho(label, data)
        min_os = (obj.platform, obj.min_os) if obj.min_os else None
        return Unit(label, fmt, obj.defined, obj.undefined, shared=obj.dylib, min_os=min_os)
    raise ElfError(f"{label}: not an object file (COFF, ELF or Mach-O) or LLVM bitcode")

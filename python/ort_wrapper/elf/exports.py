"""Whether an ELF file exports a symbol: a defined global or weak entry of its ``.dynsym``,
what ``dlsym`` would find. Read with pyelftools, so nothing is loaded to learn it."""

from __future__ import annotations

from pathlib import Path

from ..errors import ElfError

__all__ = ["exports"]

_VISIBLE = ("STB_GLOBAL", "STB_WEAK", "STB_GNU_UNIQUE")


def exports(path: Path, name: str) -> bool:
    """True when ``path`` defines the dynamic symbol ``name``; ElfError when it is unreadable."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    try:
        with open(path, "rb") as fh:
            elf = ELFFile(fh)
            hashed = elf.get_section_by_name(".gnu.hash") or elf.get_section_by_name(".hash")
            if hashed is not None:  # what the loader itself looks up: one bucket, not every name
                symbol = hashed.get_symbol(name)
                found = [symbol] if symbol is not None else []
            else:
                table = elf.get_section_by_name(".dynsym")
                found = (table.get_symbol_by_name(name) if table is not None else None) or []
            return any(
                s["st_shndx"] != "SHN_UNDEF" and s["st_info"]["bind"] in _VISIBLE for s in found
            )
    except (ELFError, ValueError, KeyError, OSError) as exc:
        raise ElfError(f"{path}: malformed ELF file ({exc})") from None

"""One ELF file's facts (dynamic section and symbol versions), read with pyelftools.

Each file is parsed once per state: ``read_elf`` keeps the last ``CACHE_SIZE`` results keyed
by the file's identity and state (device, inode, size, mtime, ctime), so a file edited or
replaced is read again, and a check that asks about one library from several modules (or a
manifest that names it many times) parses it once.
"""

from __future__ import annotations

import logging
import os
import stat
import sys
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

from ..errors import ElfError
from ..untrusted import opened

ELF_LIMIT = 1 << 36  # bytes: parsed lazily, so only a FIFO or device must be kept out

__all__ = ["ElfInfo", "host_machine", "is_elf", "read_elf"]

log = logging.getLogger(__name__)

ELF_MAGIC = b"\x7fELF"
CACHE_SIZE = 512  # parsed files kept; a distribution holds a few dozen ELF files

_cache: OrderedDict[tuple[int, ...], ElfInfo] = OrderedDict()
_cache_lock = threading.Lock()


@dataclass(frozen=True)
class ElfInfo:
    """What the dynamic loader sees in one ELF file."""

    path: Path
    elf_class: int  # 32 or 64
    machine: str  # pyelftools' e_machine name, e.g. "EM_X86_64"
    elf_type: str  # "ET_DYN", "ET_EXEC", "ET_REL"
    soname: str | None
    needed: tuple[str, ...]
    rpath: tuple[str, ...]
    runpath: tuple[str, ...]
    version_needs: Mapping[str, tuple[str, ...]]  # needed file -> version names (GLIBC_2.27, ...)
    version_defs: tuple[str, ...]  # version names this file defines (e.g. VERS_1.23.2)

    @property
    def arch(self) -> str:
        """A short architecture label for messages, e.g. 'x86_64 (64-bit)'."""
        name = self.machine.removeprefix("EM_").lower()
        return f"{name} ({self.elf_class}-bit)"


def _magic(path: Path) -> bytes:
    """The first four bytes of ``path``; ElfError saying why it cannot be read."""
    try:
        with opened(path, ElfError, limit=ELF_LIMIT) as (fh, _):
            return fh.read(4)
    except OSError as exc:
        raise ElfError(f"{path}: cannot read it ({(exc.strerror or str(exc)).lower()})") from None


def is_elf(path: Path) -> bool:
    """True when ``path`` is a regular file that starts with the ELF magic."""
    try:
        return _magic(path) == ELF_MAGIC
    except ElfError:
        return False


def _split(value: str) -> tuple[str, ...]:
    return tuple(p for p in value.split(":") if p)


def _state(path: Path) -> tuple[int, ...] | None:
    """The identity and state of the regular file at ``path`` (None when there is none)."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def read_elf(path: Path | str) -> ElfInfo:
    """Read ``path``'s dynamic section and version sections; ElfError when it is not ELF.
    A file already read in its current state is not parsed again."""
    path = Path(path)
    key = _state(path)
    if key is None:
        raise ElfError(f"{path}: no such file")
    with _cache_lock:
        info = _cache.get(key)
        if info is not None:
            _cache.move_to_end(key)
    if info is None:
        info = _parse(path)
        if _state(path) == key:  # unchanged while it was read
            with _cache_lock:
                _cache[key] = info
                while len(_cache) > CACHE_SIZE:
                    _cache.popitem(last=False)
    return info if info.path == path else replace(info, path=path)


def _parse(path: Path) -> ElfInfo:
    from elftools.common.exceptions import ELFError
    from elftools.elf.dynamic import DynamicSection
    from elftools.elf.elffile import ELFFile
    from elftools.elf.gnuversions import GNUVerDefSection, GNUVerNeedSection

    if _magic(path) != ELF_MAGIC:
        raise ElfError(f"{path}: not an ELF file (expected a shared library or executable)")
    soname, needed, rpath, runpath = None, [], (), ()
    needs: dict[str, tuple[str, ...]] = {}
    defs: list[str] = []
    try:
        with open(path, "rb") as fh:
            elf = ELFFile(fh)
            for section in elf.iter_sections():
                if isinstance(section, DynamicSection):
                    for tag in section.iter_tags():
                        kind = tag.entry.d_tag
                        if kind == "DT_NEEDED":
                            needed.append(tag.needed)
                        elif kind == "DT_SONAME":
                            soname = tag.soname
                        elif kind == "DT_RPATH":
                            rpath = _split(tag.rpath)
                        elif kind == "DT_RUNPATH":
                            runpath = _split(tag.runpath)
                elif isinstance(section, GNUVerNeedSection):
                    for verneed, aux in section.iter_versions():
                        needs[verneed.name] = tuple(a.name for a in aux)
                elif isinstance(section, GNUVerDefSection):
                    for verdef, aux in section.iter_versions():
                        if not verdef["vd_flags"] & 0x1:  # skip VER_FLG_BASE (the file name)
                            defs.extend(a.name for a in list(aux)[:1])
            return ElfInfo(
                path=path,
                elf_class=elf.elfclass,
                machine=elf["e_machine"],
                elf_type=elf["e_type"],
                soname=soname,
                needed=tuple(needed),
                rpath=rpath,
                runpath=runpath,
                version_needs=MappingProxyType(needs),  # shared by every caller: read-only
                version_defs=tuple(defs),
            )
    except (ELFError, ValueError, KeyError, OSError) as exc:
        raise ElfError(f"{path}: malformed ELF file ({exc})") from None


@lru_cache(maxsize=1)
def host_machine() -> tuple[str, int]:
    """The (e_machine, class) of this Python interpreter, i.e. of the host process."""
    info = read_elf(Path(sys.executable).resolve())
    return info.machine, info.elf_class

"""Which objects a link loads: every object named, and the archive members the symbol index
supplies for a symbol still undefined, in the order lld loads them.

lld (COFF and ELF alike) reads its inputs in command-line order into one queue: an object
is loaded whole; an archive offers its index's symbols, and a symbol already needed queues
its member; a member loaded later needs more, which queues further members. Archive order
therefore decides only which of two archives defining a symbol wins (the first), as in lld.
GNU ld's one-pass rule (an archive only serves what comes before it) is not modelled.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..elf.archive import ArchiveInfo, Member, read_archive, read_index
from ..errors import ElfError
from .units import Format, Unit, object_format, read_unit

__all__ = ["Archive", "Link", "Loaded", "member_label", "open_archive", "simulate"]


def member_label(archive: str, member: Member) -> str:
    """``archive(member)`` as linkers name a member: its file name only (lib.exe and llvm-lib
    store the path an object was given by)."""
    return f"{archive}({member.name.replace(chr(92), '/').rsplit('/', 1)[-1]})"


@dataclass
class Archive:
    """An archive input: its table of contents, its index, and the members read so far."""

    label: str
    info: ArchiveInfo
    index: tuple[tuple[str, Member], ...]
    units: dict[int, Unit | ElfError] = field(default_factory=dict)

    def unit(self, member: Member) -> Unit | ElfError:
        """The member's facts (read once); the error when it cannot be read."""
        if member.header not in self.units:
            label = member_label(self.label, member)
            try:
                with open(self.info.path, "rb") as fh:
                    fh.seek(member.offset)
                    data = fh.read(member.size)
                self.units[member.header] = read_unit(label, data)
            except ElfError as exc:
                self.units[member.header] = exc
        return self.units[member.header]

    def objects(self) -> Iterable[tuple[Member, Unit | ElfError]]:
        """Every member that is an object (an rlib's ``lib.rmeta`` is not), with its facts."""
        with open(self.info.path, "rb") as fh:
            for member in self.info.members:
                fh.seek(member.offset)
                if object_format(fh.read(64)) is not None:
                    yield member, self.unit(member)


def open_archive(path: Path, label: str) -> Archive:
    """An archive input with its index read; ElfError when either is unreadable. A darwin
    archive's index names lose the C ABI's leading underscore, as its members' names do."""
    info = read_archive(path)
    index = read_index(info)
    archive = Archive(label, info, index)
    first = next(iter(archive.objects()), (None, None))[1]
    if isinstance(first, Unit) and first.format is Format.MACHO:
        archive.index = tuple((name.removeprefix("_"), m) for name, m in index)
    return archive


@dataclass(frozen=True)
class Loaded:
    """An object the link loads, and why: named, or the symbol its archive index gave."""

    unit: Unit
    archive: str = ""  # the archive it came from ("" when named)
    symbol: str = ""  # the symbol it was loaded for


@dataclass(frozen=True)
class Link:
    """What a link of the inputs loads, what stays undefined, and what could not be read."""

    loaded: tuple[Loaded, ...]
    unresolved: tuple[str, ...]
    problems: tuple[tuple[str, str], ...]  # (file or member, message)
    loaded_members: frozenset[tuple[str, int]]  # (archive label, member header)


class _Simulation:
    def __init__(self) -> None:
        self.defined: set[str] = set()
        self.lazy: dict[str, tuple[Archive, Member]] = {}
        self.needed: dict[str, None] = {}  # undefined, in order
        self.pending: set[str] = set()
        self.queue: deque[Unit | Archive | tuple[Archive, Member, str]] = deque()
        self.done: set[tuple[str, int]] = set()
        self.loaded: list[Loaded] = []
        self.problems: list[tuple[str, str]] = []

    def want(self, archive: Archive, member: Member, symbol: str) -> None:
        self.pending.add(symbol)
        self.queue.append((archive, member, symbol))

    def load(self, unit: Unit, archive: str = "", symbol: str = "") -> None:
        self.loaded.append(Loaded(unit, archive, symbol))
        for name in unit.defined:
            self.defined.add(name)
            self.needed.pop(name, None)
            self.lazy.pop(name, None)
        for name in unit.undefined:
            if name in self.defined or name in self.pending:
                continue
            if name in self.lazy:
                self.want(*self.lazy.pop(name), name)
            else:
                self.needed[name] = None

    def offer(self, archive: Archive) -> None:
        for name, member in archive.index:
            if name in self.defined or name in self.lazy or name in self.pending:
                continue
            if name in self.needed:
                self.want(archive, member, name)
            else:
                self.lazy[name] = (archive, member)

    def member(self, archive: Archive, member: Member, symbol: str) -> None:
        key = (archive.label, member.header)
        if key in self.done:
            return
        self.done.add(key)
        unit = archive.unit(member)
        if isinstance(unit, ElfError):
            self.problems.append((member_label(archive.label, member), str(unit)))
        elif symbol not in unit.defined and not unit.opaque:
            self.problems.append(
                (
                    archive.label,
                    f"{archive.label}: its symbol index says {member_label(archive.label, member)} "
                    f"defines {symbol!r}, but that member does not (a stale or forged index: "
                    "rebuild it with llvm-ranlib, or llvm-lib/lib.exe)",
                )
            )
        else:
            self.load(unit, archive.label, symbol)

    def run(self) -> None:
        while self.queue:
            item = self.queue.popleft()
            if isinstance(item, Unit):
                self.load(item)
            elif isinstance(item, Archive):
                self.offer(item)
            else:
                self.member(*item)


def simulate(inputs: Iterable[Unit | Archive]) -> Link:
    """Load ``inputs`` (objects, shared libraries and archives, in command-line order) as lld
    does and say what the link loads."""
    sim = _Simulation()
    sim.queue.extend(inputs)
    sim.run()
    unresolved = tuple(n for n in sim.needed if n not in sim.defined)
    return Link(tuple(sim.loaded), unresolved, tuple(sim.problems), frozenset(sim.done))

"""Global symbols of Mach-O objects (darwin archives' members, dylibs), read with LLVM's
``llvm-nm`` in its darwin output format (``-m``), which marks weak references.

Names lose the leading underscore the C ABI adds on darwin, so that ``OrtGetApiBase`` and C++
names (``__Z…`` -> ``_Z…``) compare equal to the ELF ones everywhere else. Each object's
symbols come back as ``(name, defined, undefined)``: ``archive`` makes its ``ObjectSymbols`` of
them (it calls this module, so this module does not import it).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

from ..errors import ElfError
from ..files import find_tool

__all__ = ["Symbols", "macho_archive_symbols", "macho_library_symbols"]

NM = "llvm-nm"
# one object's symbols: (name, defined, strongly undefined)
Symbols = tuple[str, frozenset[str], frozenset[str]]


def _nm(args: list[str], path: Path) -> str:
    tool = find_tool(NM, env="LLVM_NM", error=ElfError, hint="install LLVM (llvm-nm)")
    done = subprocess.run([tool, *args, str(path)], capture_output=True, text=True, check=False)
    if done.returncode:
        raise ElfError(f"{NM} cannot read {path}: {done.stderr.strip()}")
    return done.stdout


def _nm_lines(text: str, path: Path, archive: bool) -> Iterator[tuple[str, str, bool, bool]]:
    """``(member, name, defined, weak)`` of each external symbol in ``llvm-nm -g -m -A``
    output for ``path`` (lines ``path:member: …`` for an archive, ``path: …`` for one file,
    whose member is "")."""
    prefix = f"{path}:"
    for line in text.splitlines():
        if not line.startswith(prefix):
            continue
        rest = line[len(prefix) :]
        member, _, rest = rest.partition(": ") if archive else ("", "", rest)
        words = rest.split()
        if "external" not in words:
            continue
        name = words[-1]
        yield member, name.removeprefix("_"), "(undefined)" not in words, "weak" in words


def _group(text: str, path: Path, archive: bool) -> tuple[Symbols, ...]:
    objects: list[Symbols] = []
    current: str | None = None
    defined: set[str] = set()
    undefined: set[str] = set()

    def flush() -> None:
        if current is not None:
            label = f"{path}({current})" if archive else str(path)
            objects.append((label, frozenset(defined), frozenset(undefined - defined)))

    for member, name, is_defined, weak in _nm_lines(text, path, archive):
        if member != current:
            flush()
            current, defined, undefined = member, set(), set()
        if is_defined:
            defined.add(name)
        elif not weak:
            undefined.add(name)
    flush()
    return tuple(objects)


def macho_archive_symbols(path: Path) -> tuple[Symbols, ...]:
    """The external symbols of each Mach-O member of the archive at ``path``, in member order
    (members without symbols are left out; adjacent members of one name read as one)."""
    return _group(_nm(["-g", "-m", "-A", "--no-sort"], path), path, archive=True)


def macho_library_symbols(path: Path) -> Symbols:
    """The symbols a Mach-O dylib exports and imports."""
    objects = _group(_nm(["-g", "-m", "-A", "--no-sort"], path), path, archive=False)
    return objects[0] if objects else (str(path), frozenset(), frozenset())

"""Check a bundle: every NEEDED of every bundled file resolves inside it or to a host library.

Resolution is done as the loader would with LD_LIBRARY_PATH empty (RUNPATH, ld.so.conf, the
default directories). A soname that resolves outside the bundle is a problem unless the policy
(``elf/policy.json``) leaves it to the host; one that resolves nowhere is a problem unless it is
host-only (the GPU driver is absent on machines without a GPU).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..elf.policy import host_category
from ..elf.resolve import resolve_closure

__all__ = ["Problem", "verify_files"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Problem:
    """One NEEDED entry that does not resolve as a bundle requires."""

    file: str  # bundle-relative path of the file whose closure has the problem
    soname: str
    needed_by: tuple[str, ...]
    resolved: str | None  # the outside path it resolved to; None when not found

    def describe(self) -> str:
        """One line for error messages."""
        where = f"resolves outside the bundle to {self.resolved}" if self.resolved else "not found"
        return f"{self.file}: {self.soname} (needed by {', '.join(self.needed_by)}) {where}"


def verify_files(root: Path, files: Iterable[str]) -> tuple[Problem, ...]:
    """Problems of the ELF ``files`` (bundle-relative) of the bundle at ``root``; () when sound."""
    problems: list[Problem] = []
    real_root = root.resolve()
    for rel in files:
        closure = resolve_closure(root / rel, ld_library_path="")
        for lib in closure.libraries.values():
            if host_category(lib.soname):
                continue
            if lib.path is None:
                problems.append(Problem(rel, lib.soname, lib.needed_by, None))
            elif not lib.path.resolve().is_relative_to(real_root):
                problems.append(Problem(rel, lib.soname, lib.needed_by, str(lib.path)))
    return tuple(problems)

"""Libraries dlopened by soname at run time (``companions.json``): policy as data."""

from __future__ import annotations

import json
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache
from pathlib import Path

__all__ = ["Companions", "companions_of"]


@dataclass(frozen=True)
class Companions:
    """What a library loads at run time: sibling file patterns and sonames, and why."""

    soname: str
    why: str
    siblings: tuple[str, ...]
    sonames: tuple[str, ...]

    def sibling_files(self, directory: Path) -> tuple[Path, ...]:
        """Files in ``directory`` matching the sibling patterns (sorted; symlinks skipped)."""
        if not directory.is_dir():
            return ()
        return tuple(
            sorted(
                p
                for p in directory.iterdir()
                if p.is_file()
                and not p.is_symlink()
                and p.name != self.soname
                and any(fnmatchcase(p.name, pattern) for pattern in self.siblings)
            )
        )


@lru_cache(maxsize=1)
def _table() -> dict[str, Companions]:
    data = json.loads(Path(__file__).with_name("companions.json").read_text())
    return {
        soname: Companions(
            soname, e["why"], tuple(e.get("siblings", ())), tuple(e.get("sonames", ()))
        )
        for soname, e in data["companions"].items()
    }


def companions_of(soname: str) -> Companions | None:
    """The run-time companions of ``soname``, or None when it loads nothing by soname."""
    return _table().get(soname)

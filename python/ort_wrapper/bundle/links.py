"""The names a linker and the loader look a bundle's core library up by, made as symlinks
beside it: ``libonnxruntime.so`` for ``-lonnxruntime`` (a C build, the ``ort`` crate's
``ort-sys``) and the library's SONAME for the programs linked that way.

A wheel's ``capi/`` holds only ``libonnxruntime.so.1.23.2``, and ``bundle`` copies regular files
only, so without these a bundle cannot be linked against, nor a program linked with it run.
Each link is a relative name in the same folder, recorded in bundle.json (``links``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from ..elf.reader import read_elf
from .record import BundledLink

__all__ = ["LINK_NAME", "core_links", "make_links"]

LINK_NAME = "libonnxruntime.so"  # what -lonnxruntime finds


def core_links(root: Path, core: str | None, taken: Iterable[str]) -> tuple[BundledLink, ...]:
    """The links to make beside ``core`` (relative to ``root``): its link-time name and its
    SONAME, each unless it is the core's own name or a path in ``taken``."""
    if core is None:
        return ()
    path = PurePosixPath(core)
    names = (LINK_NAME, read_elf(root / core).soname)
    taken = set(taken)
    wanted = dict.fromkeys(
        (path.parent / n).as_posix() for n in names if n and n != path.name and "/" not in n
    )
    return tuple(BundledLink(rel, path.name) for rel in wanted if rel not in taken)


def make_links(root: Path, links: Iterable[BundledLink]) -> None:
    """Create each link under ``root`` (a new name only: FileExistsError over anything)."""
    for link in links:
        (root / link.path).symlink_to(link.target)

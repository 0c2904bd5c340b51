"""Shared objects mapped into this process, read from /proc/self/maps."""

from __future__ import annotations

from pathlib import Path

__all__ = ["loaded_libraries"]


def loaded_libraries() -> tuple[Path, ...]:
    """Paths of the ``.so`` files mapped into this process, in first-mapped order."""
    seen: dict[str, None] = {}
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                slash = line.find("/")
                if slash < 0:
                    continue
                path = line[slash:].rstrip("\n").removesuffix(" (deleted)")
                if ".so" in Path(path).name:
                    seen.setdefault(path, None)
    except OSError:
        return ()
    return tuple(Path(p) for p in seen)

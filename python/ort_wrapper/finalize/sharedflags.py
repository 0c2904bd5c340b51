"""Link flags of a shared distribution: the core library by its full path, so they work
without a ``libonnxruntime.so`` development link (wheels, npm's library and bundles have
none), and a RUNPATH to its folder so the program finds it at run time."""

from __future__ import annotations

from pathlib import PurePosixPath

from .linkflags import PREFIX_VAR

__all__ = ["shared_link_flags"]


def shared_link_flags(library: str) -> tuple[str, ...]:
    """Flags (with ``${prefix}``) linking the shared core library at relative path ``library``."""
    folder = PurePosixPath(library).parent
    return (f"{PREFIX_VAR}/{library}", f"-Wl,-rpath,{PREFIX_VAR}/{folder}")

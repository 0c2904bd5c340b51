"""``ort-wrapper link-flags``: the ordered flags that link a distribution, from its manifest."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..finalize.linkflags import FORMATS

HELP = "print the flags that link a distribution (cc, cargo build.rs lines, cmake list, json)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("prefix", type=Path, help="the distribution's root")
    parser.add_argument(
        "--format",
        default="cc",
        choices=FORMATS,
        help="cc: one shell line; cargo: cargo:rustc-link-* lines for a build.rs; "
        "cmake: a ;-list; json: a list",
    )
    parser.add_argument(
        "--as-path",
        type=Path,
        help="print paths as if the distribution lay here (a container or chroot's view)",
    )


def _flags(prefix: Path) -> tuple[str, ...]:
    """The manifest's flags; for a shared distribution that records none (a bundle of a
    wheel, say), the full path of its core library."""
    from ..errors import BuildError
    from ..finalize.cmakepkg import core_library
    from ..finalize.sharedflags import shared_link_flags
    from ..manifest import LinkMode, load_manifest

    manifest = load_manifest(prefix)
    if manifest.link_flags:
        return manifest.link_flags
    library = core_library(manifest.files) if manifest.link_mode == LinkMode.SHARED else None
    if library is None:
        raise BuildError(
            f"{prefix}: this {manifest.link_mode} distribution records no link flags and lists "
            "no libonnxruntime.so* to link: it cannot be linked (load it at run time instead)"
        )
    _note_soname(prefix / library)
    return shared_link_flags(library)


def _note_soname(library: Path) -> None:
    """Warn when nothing in the library's folder has its SONAME: a program linked with it
    records that name and would not find the library at run time (a wheel's capi/ has
    ``libonnxruntime.so.1.23.2`` only)."""
    from ..elf.reader import read_elf
    from ..errors import ElfError
    from ..escape import terminal_text

    try:
        soname = read_elf(library).soname
    except ElfError:
        return
    if soname and not (library.parent / soname).exists():
        note = (
            f"a program linked with {library.name} loads {soname}, which {library.parent} "
            f"lacks: put a link there (ln -s {library.name} {soname}) or in a folder on "
            "LD_LIBRARY_PATH"
        )
        print(f"ort-wrapper link-flags: note: {terminal_text(note)}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from ..finalize.linkflags import format_flags
    from ..manifest import substitute

    flags = _flags(args.prefix)
    root = args.as_path or args.prefix.resolve()
    print(format_flags(substitute(flags, root), args.format))
    return 0

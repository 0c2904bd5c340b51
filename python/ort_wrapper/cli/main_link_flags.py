"""``ort-wrapper link-flags``: the ordered flags that link a distribution, from its manifest."""

from __future__ import annotations

import argparse
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


def run(args: argparse.Namespace) -> int:
    from ..errors import BuildError
    from ..finalize.linkflags import format_flags, substitute
    from ..manifest import load_manifest

    manifest = load_manifest(args.prefix)
    if not manifest.link_flags:
        raise BuildError(
            f"{args.prefix}: this distribution records no link flags (it is a "
            f"{manifest.link_mode} distribution: link with -L<its lib folder> -lonnxruntime, "
            "or load it at run time)"
        )
    root = args.as_path or args.prefix.resolve()
    print(format_flags(substitute(manifest.link_flags, root), args.format))
    return 0

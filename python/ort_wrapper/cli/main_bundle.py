"""``ort-wrapper bundle SRC --out DIR``: a distribution and its whole closure, self-contained."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HELP = (
    "bundle a distribution with its whole closure (CUDA included) into a self-contained directory"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "src",
        type=Path,
        metavar="SRC",
        help="a distribution prefix (with share/ort-wrapper/manifest.json), an installed "
        "onnxruntime / onnxruntime-gpu package (or its site-packages), or a directory of libraries",
    )
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="bundle directory")
    parser.add_argument(
        "--search-dir",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="extra directory to find needed libraries in (repeatable; e.g. site-packages "
        "nvidia/*/lib), searched after LD_LIBRARY_PATH",
    )
    parser.add_argument(
        "--provider",
        action="append",
        default=None,
        metavar="NAME",
        help="bundle only these runtime-loaded providers (repeatable; e.g. cuda); "
        "default: every provider library the source has",
    )
    parser.add_argument(
        "--runpath-prefix",
        action="append",
        default=[],
        metavar="DIR",
        help="directory put first in every bundled ELF file's RUNPATH (repeatable; e.g. the GPU "
        "driver's /run/opengl-driver/lib on NixOS)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from ..bundle.write import make_bundle
    from ..escape import terminal_text

    result = make_bundle(
        args.src,
        args.out,
        search_dirs=args.search_dir,
        providers=args.provider,
        runpath_prefix=args.runpath_prefix,
        quiet=args.quiet,
    )
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        needs = ", ".join(result.host_requirements.values()) or "nothing versioned"
        lines = [
            f"bundled {result.variant} {result.version}: {result.files} files, "
            f"{result.total_bytes / 2**20:.1f} MiB in {result.seconds:.1f} s -> {result.root}",
            f"verified: every NEEDED resolves inside the bundle or to the host ({needs})",
            *(f"left out: {item}" for item in result.left_out),
        ]
        print(terminal_text("\n".join(lines)))
    return 0

"""``ort-wrapper link-check [--dist D] FILE_OR_FOLDER...``: predict a link failure from the
files, before any linker runs."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

HELP = (
    "predict a consumer's link failure from its objects and archives (MSVC runtime mismatch, "
    "C++ standard library, position independence, glibc versions) before linking"
)

__all__ = ["HELP", "add_arguments", "run"]


def _glibc(value: str) -> str:
    if not re.fullmatch(r"\d+\.\d+", value):
        raise argparse.ArgumentTypeError(f"expected a glibc version such as 2.31, got {value!r}")
    return value


def _os_version(value: str) -> str:
    if not re.fullmatch(r"\d+(\.\d+){0,2}", value):
        raise argparse.ArgumentTypeError(f"expected a version such as 13.0, got {value!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Inputs, --dist, --output, --target-glibc, --target-os-min and --json."""
    from ..linkcheck import OUTPUTS

    parser.add_argument(
        "inputs",
        nargs="+",
        type=Path,
        metavar="FILE_OR_FOLDER",
        help="what the link takes, in link order: objects, archives (.a, .lib, .rlib), shared "
        "libraries, or folders to scan (a cargo target/<profile>/deps, a build tree)",
    )
    parser.add_argument(
        "--dist",
        metavar="PATH",
        type=Path,
        action="append",
        default=[],
        help="an ONNX Runtime distribution, linked after the inputs: with ort-wrapper's manifest "
        "its archives and core library; otherwise the folder, scanned",
    )
    parser.add_argument(
        "--output",
        choices=OUTPUTS,
        default="pie",
        help="what an ELF link makes (default pie, as Debian's gcc and rustc do)",
    )
    parser.add_argument(
        "--target-glibc",
        type=_glibc,
        metavar="X.Y",
        help="the glibc of the machine the result runs on (default: this host's)",
    )
    parser.add_argument(
        "--target-os-min",
        type=_os_version,
        metavar="X.Y",
        help="Mach-O: the minimum OS version the link targets (ld's -platform_version minimum)",
    )
    parser.add_argument("--json", action="store_true", help="the report as JSON on stdout")


def run(args: argparse.Namespace) -> int:
    """Print the report; 0 when no link failure is predicted, 1 otherwise."""
    from ..linkcheck import link_check
    from ..linkcheck.inputs import dist_inputs
    from ..report import render_text
    from .main_doctor import _emit

    dist = [p for root in args.dist for p in dist_inputs(root)]
    inputs = [*args.inputs, *dist]
    report = link_check(inputs, args.output, args.target_glibc, args.target_os_min)
    if args.json:
        return _emit(json.dumps(report.to_json(), indent=2) + "\n", report.exit_code)
    return _emit(render_text(report) + "\n", report.exit_code)

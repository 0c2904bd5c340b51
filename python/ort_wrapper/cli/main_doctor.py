"""``ort-wrapper doctor [--dist PATH] [--json [FILE]]``: diagnose without a model."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

HELP = (
    "explain which ONNX Runtime this environment loads and why each execution provider is or "
    "is not usable (no model needed)"
)

__all__ = ["HELP", "add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """--dist and --json."""
    parser.add_argument(
        "--dist",
        metavar="PATH",
        help="diagnose this distribution prefix instead of the one init() would choose",
    )
    parser.add_argument(
        "--json",
        nargs="?",
        const="-",
        metavar="FILE",
        help="the report as JSON: on stdout instead of the table (no FILE), or written to FILE "
        "while the table still prints",
    )


def run(args: argparse.Namespace) -> int:
    """Print the report; 0 when nothing is an error, 1 otherwise, 2 when FILE is unwritable."""
    from ..doctor import diagnose
    from ..report import render_text
    from .reportfile import refuse_unwritable, write_report

    if args.json not in (None, "-"):
        refuse_unwritable(Path(args.json), [Path(args.dist)] if args.dist else [])
    report = diagnose(args.dist)
    if args.json == "-":
        return _emit(json.dumps(report.to_json(), indent=2) + "\n", report.exit_code)
    if args.json:
        write_report(Path(args.json), report.to_json())
    return _emit(render_text(report) + "\n", report.exit_code)


def _emit(text: str, code: int) -> int:
    """Write ``text`` to stdout; a reader that went away (``| head``) is not an error."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # Python flushes stdout again at exit: point it at /dev/null so that does not fail too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return code

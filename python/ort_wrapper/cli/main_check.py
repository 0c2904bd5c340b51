"""``ort-wrapper check``: prove a distribution links, runs its providers, is correct,
deterministic and stable; a report per section, the same facts as JSON."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..check.options import SECTIONS, CheckOptions

HELP = "validate a distribution: linking, providers, quality, determinism, stability"


def _sections(value: str) -> tuple[str, ...]:
    """Comma-separated section names, each once, validated by CheckOptions."""
    names = tuple(dict.fromkeys(s.strip() for s in value.split(",") if s.strip()))
    try:
        CheckOptions(sections=names)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return names


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {number}")
    return number


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dist",
        help="distribution prefix or bundle (default: what init() loads: "
        "ORT_WRAPPER_DIST, ORT_LIB_LOCATION, a carried bundle, the installed wheel)",
    )
    parser.add_argument(
        "--only",
        type=_sections,
        default=SECTIONS,
        metavar="SECTIONS",
        help=f"comma-separated sections to run (default: {','.join(SECTIONS)})",
    )
    parser.add_argument(
        "--model",
        type=Path,
        nargs="+",
        action="extend",
        default=[],
        metavar="M.onnx",
        help="also run determinism and stability on these models",
    )
    parser.add_argument("--json", type=Path, metavar="REPORT.json", help="write the report as JSON")
    parser.add_argument(
        "--runs", type=_positive, default=1000, help="stability runs per model (default 1000)"
    )
    parser.add_argument(
        "--determinism-runs",
        type=_positive,
        default=20,
        help="repeated runs per model in the determinism section (default 20)",
    )
    parser.add_argument(
        "--write-baseline",
        action="store_true",
        help="record this run's conformance results as the baseline (quality section)",
    )
    parser.add_argument(
        "--baseline-dir",
        type=Path,
        help="where baselines are read and written "
        "(default: the ones committed in ort_wrapper/check/baselines)",
    )
    parser.add_argument(
        "--timeout", type=_positive, default=900, help="seconds for the session sections"
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")


def run(args: argparse.Namespace) -> int:
    from ..check import render_text, run_check
    from ..files import output_problem, write_json_atomic

    if args.json and (problem := output_problem(args.json)):
        print(f"ort-wrapper check: cannot write {args.json}: {problem}", file=sys.stderr)
        return 2
    options = CheckOptions(
        sections=args.only,
        models=tuple(args.model),
        stability_runs=args.runs,
        determinism_runs=args.determinism_runs,
        write_baseline=args.write_baseline,
        baseline_dir=args.baseline_dir,
        quiet=args.quiet,
        timeout_s=float(args.timeout),
    )
    report = run_check(args.dist, options)
    print(render_text(report), flush=True)
    if args.json:
        try:
            write_json_atomic(args.json, report.to_json())
        except OSError as exc:
            print(
                f"ort-wrapper check: cannot write {args.json}: {exc.strerror or exc}",
                file=sys.stderr,
            )
            return 2
    return 0 if report.ok else 1

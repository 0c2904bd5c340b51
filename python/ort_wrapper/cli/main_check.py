"""``ort-wrapper check``: prove a distribution links, runs its providers, is correct,
deterministic and stable; a report per section, the same facts as JSON."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..check.compare import DEFAULT_ATOL, DEFAULT_RTOL
from ..check.inputs import ModelSpec, find_models
from ..check.options import DETERMINISM_SECONDS, SECTIONS, STABILITY_SECONDS, CheckOptions
from ..runtime.session import LOG_LEVELS
from .arguments import named_file, named_size, positive_seconds, tolerance

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


def _input(value: str) -> tuple[str, Path] | Path:
    """NAME=FILE.npy, or a directory (of NAME.npy, input_K.pb or test_data_set_N folders)."""
    if "=" in value and not Path(value).is_dir():
        return named_file(value)
    return Path(value)


def _model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        type=Path,
        nargs="+",
        action="extend",
        default=[],
        metavar="M.onnx",
        help="also run quality (with reference outputs), determinism and stability on these "
        "models; test_data_set_N folders beside a model alone in its folder are its inputs",
    )
    parser.add_argument(
        "--models-dir",
        type=Path,
        metavar="DIR",
        help="every *.onnx under DIR, as --model, with one summary table at the end",
    )
    parser.add_argument(
        "--input",
        "-i",
        type=_input,
        action="append",
        default=[],
        metavar="NAME=FILE.npy|DIR",
        help="a real input of the one --model (repeat), or a directory of NAME.npy files, "
        "input_K.pb files or test_data_set_N folders (default: synthetic inputs)",
    )
    parser.add_argument(
        "--expected",
        type=named_file,
        action="append",
        default=[],
        metavar="NAME=FILE.npy",
        help="a reference output for the --input arrays, compared in the quality section",
    )
    parser.add_argument(
        "--dim",
        type=named_size,
        action="append",
        default=[],
        metavar="NAME=SIZE",
        help="a symbolic dimension (or INPUT[AXIS]) of synthetic inputs (default 8)",
    )
    parser.add_argument(
        "--rtol",
        type=tolerance,
        default=DEFAULT_RTOL,
        help=f"relative tolerance for reference outputs (default {DEFAULT_RTOL:g}, onnx's)",
    )
    parser.add_argument(
        "--atol",
        type=tolerance,
        default=DEFAULT_ATOL,
        help=f"absolute tolerance for reference outputs (default {DEFAULT_ATOL:g}, onnx's)",
    )


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
    _model_arguments(parser)
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
        "--stability-seconds",
        type=positive_seconds,
        default=STABILITY_SECONDS,
        help=f"time limit of the stability runs per model and provider "
        f"(default {STABILITY_SECONDS:g})",
    )
    parser.add_argument(
        "--determinism-seconds",
        type=positive_seconds,
        default=DETERMINISM_SECONDS,
        help=f"time limit of the repeated determinism runs per model "
        f"(default {DETERMINISM_SECONDS:g})",
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
    parser.add_argument(
        "--log-level",
        choices=tuple(LOG_LEVELS),
        default="fatal",
        help="ONNX Runtime's own log lines from this level up (default fatal: its errors are "
        "already in the report)",
    )


def _specs(args: argparse.Namespace) -> tuple[ModelSpec, ...]:
    """The models to run, the real inputs going to the one --model they can belong to."""
    pairs = tuple(i for i in args.input if isinstance(i, tuple))
    dirs = tuple(i for i in args.input if isinstance(i, Path))
    if (pairs or dirs or args.expected) and (len(args.model) != 1 or args.models_dir):
        args.error(
            "--input and --expected belong to one model: give exactly one --model "
            "(a folder of models takes its inputs from each model's test_data_set_N folders)"
        )
    if args.expected and not (pairs or dirs):
        args.error("--expected needs the inputs those outputs came from (--input)")
    dims = tuple(args.dim)
    extra = find_models(args.models_dir) if args.models_dir else []
    if pairs or dirs or args.expected:
        first = ModelSpec(args.model[0], pairs, dirs, tuple(args.expected), dims)
        return (first,)
    return tuple(ModelSpec(p, dims=dims) for p in [*args.model, *extra])


def _inputs(args: argparse.Namespace, specs: tuple[ModelSpec, ...]) -> list[Path]:
    """Every path the check reads that a --json file could be."""
    named = [p for _, p in (*args.expected, *(i for i in args.input if isinstance(i, tuple)))]
    dirs = [i for i in args.input if isinstance(i, Path)]
    dist = [Path(args.dist)] if args.dist else []
    return [*(s.path for s in specs), *named, *dirs, *dist, *filter(None, [args.models_dir])]


def run(args: argparse.Namespace) -> int:
    from ..check import run_check
    from ..check.summary import model_summary
    from ..report import format_table, render_text
    from .reportfile import refuse_unwritable, write_report

    specs = _specs(args)
    if args.json:
        refuse_unwritable(args.json, _inputs(args, specs))
    options = CheckOptions(
        sections=args.only,
        models=specs,
        stability_runs=args.runs,
        determinism_runs=args.determinism_runs,
        stability_seconds=args.stability_seconds,
        determinism_seconds=args.determinism_seconds,
        rtol=args.rtol,
        atol=args.atol,
        write_baseline=args.write_baseline,
        baseline_dir=args.baseline_dir,
        quiet=args.quiet,
        timeout_s=float(args.timeout),
        log_level=args.log_level,
    )
    report = run_check(args.dist, options)
    print(render_text(report), flush=True)
    data = report.to_json()
    if args.models_dir:
        summary = model_summary(report, [str(s.path) for s in specs])
        print(f"\n{summary.title}:\n{format_table(summary.columns, summary.rows)}", flush=True)
        data["models"] = summary.to_json()
    if args.json:
        write_report(args.json, data)
    return 0 if report.ok else 1

"""``ort-wrapper reduce-config``: the operator config of a reduced build for a set of models."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = (
    "write ONNX Runtime's operator config (domain;opset;Op,...) for a build reduced to what "
    "MODELs use; with --dist, also the operators that ORT's optimisers add to them"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("models", nargs="+", type=Path, metavar="MODEL", help="ONNX model files")
    parser.add_argument("--out", type=Path, required=True, help="the config file to write")
    parser.add_argument(
        "--dist",
        type=Path,
        help="a full ONNX Runtime of the version to be built: each model is optimised by it "
        "(level 'all', CPU) and the fused operators it adds are included (recommended: a "
        "reduced build without them fails on the models it was made for)",
    )


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..files import atomic_file, output_problem
    from ..reduce.for_models import config_for_models

    if problem := output_problem(args.out, [*args.models, args.dist]):
        raise InputError(f"--out {args.out} {problem}; nothing was written")
    config = config_for_models(args.models, args.dist)
    with atomic_file(args.out) as fh:
        fh.write(config.text())
    print(
        f"{args.out}: {len(config.operators)} operators for {len(config.models)} model(s)"
        + ("" if args.dist else " (without --dist: fused operators are not included)")
    )
    return 0

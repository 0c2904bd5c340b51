"""``ort-wrapper run``: run a model on .npy inputs and save or show its outputs."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..runtime.session import LOG_LEVELS
from .arguments import named_file

HELP = "run a model on .npy inputs (--input NAME=FILE.npy) and save or print the outputs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of the verb."""
    parser.add_argument("model", type=Path, help="the .onnx model file")
    parser.add_argument(
        "--input",
        "-i",
        type=named_file,
        action="append",
        default=[],
        metavar="NAME=FILE.npy",
        help="an input array (repeat per input)",
    )
    parser.add_argument(
        "--providers",
        "-p",
        nargs="+",
        metavar="NAME",
        help="providers in preference order (cpu, cuda, ... or ORT names)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="fail unless every requested provider is actually used",
    )
    parser.add_argument(
        "--output-dir",
        "-o",
        type=Path,
        help="write each output here: NAME.npy for tensors, NAME.npz for sequences of tensors, "
        "NAME.json for maps (default: print a summary)",
    )
    parser.add_argument(
        "--log-level",
        choices=tuple(LOG_LEVELS),
        default="fatal",
        help="ONNX Runtime's own log lines from this level up (default fatal: its errors are "
        "already in the one-line error message)",
    )
    parser.add_argument("--dist", metavar="PATH", help="distribution prefix (default: as init())")


def _load_inputs(pairs: list[tuple[str, Path]]) -> dict[str, object]:
    from ..check.inputs import load_npy
    from ..errors import InputError

    feeds = {}
    for name, path in pairs:
        if name in feeds:
            raise InputError(f"input {name!r} is given twice")
        feeds[name] = load_npy(path, f"input {name!r}")
    return feeds


def _summary(outputs: dict[str, object]) -> None:
    """A line per output; names come from the model, so they are printed as terminal text."""
    import numpy as np

    from ..escape import terminal_text

    for name, value in outputs.items():
        if not hasattr(value, "dtype"):
            print(terminal_text(f"  {name}: {type(value).__name__} {_short(value)}"))
            continue
        array = np.asarray(value)
        preview = np.array2string(array.ravel()[:6], precision=4, separator=", ")
        more = "..." if array.size > 6 else ""
        print(terminal_text(f"  {name}: {array.dtype} {list(array.shape)} {preview}{more}"))


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 100 else text[:97] + "..."


def run(args: argparse.Namespace) -> int:
    """Build the session, run once, write the outputs, then report (so a failed write is the
    only thing said)."""
    from ..escape import terminal_text
    from ..runtime.loader import init
    from ..runtime.session import SessionBuilder
    from .outputs import write_outputs

    if args.strict and not args.providers:
        args.error("--strict needs --providers (the providers to insist on)")
    init(args.dist)
    feeds = _load_inputs(args.input)
    builder = SessionBuilder.from_file(args.model).log_level(args.log_level)
    if args.providers:
        builder.with_providers(*args.providers, strict=args.strict)
    session = builder.build()
    outputs = session.run(feeds)
    written = []
    if args.output_dir:
        types = {o.name: o.type for o in session.outputs}
        inputs = [args.model, *(path for _, path in args.input)]
        written = write_outputs(outputs, types, args.output_dir, inputs)
    print(f"ran {args.model} on {', '.join(session.providers)}")
    for fallback in session.fallbacks:
        print(terminal_text(f"  fallback: {fallback.provider}: {fallback.reason}"))
    for plan in written:
        renamed = f" (output {plan.name!r} renamed: {plan.note})" if plan.note else ""
        print(f"  wrote {plan.path}{renamed}")
    if not args.output_dir:
        _summary(outputs)
    return 0

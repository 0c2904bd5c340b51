"""``ort-wrapper run``: run a model on .npy inputs and save or show its outputs."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "run a model on .npy inputs (--input NAME=FILE.npy) and save or print the outputs"


def _input(value: str) -> tuple[str, Path]:
    name, sep, path = value.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=FILE.npy, got {value!r}")
    return name, Path(path)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of the verb."""
    parser.add_argument("model", type=Path, help="the .onnx model file")
    parser.add_argument(
        "--input",
        "-i",
        type=_input,
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
        help="write each output as NAME.npy here (default: print a summary)",
    )
    parser.add_argument("--dist", metavar="PATH", help="distribution prefix (default: as init())")


def _load_inputs(pairs: list[tuple[str, Path]]) -> dict[str, object]:
    import numpy as np

    from ..errors import InputError

    feeds = {}
    for name, path in pairs:
        if name in feeds:
            raise InputError(f"input {name!r} is given twice")
        try:
            feeds[name] = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            raise InputError(f"input {name!r}: {path}: no such file") from None
        except (OSError, ValueError) as exc:
            raise InputError(f"input {name!r}: {path} is not a .npy array file ({exc})") from None
    return feeds


def _save(outputs: dict[str, object], directory: Path) -> list[Path]:
    import numpy as np

    from ..files import atomic_file

    written = []
    for name, value in outputs.items():
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        target = directory / f"{safe}.npy"
        array = np.asarray(value)
        if array.dtype == object:  # string tensors: save as unicode, loadable without pickle
            array = array.astype(str)
        with atomic_file(target, "wb") as fh:
            np.save(fh, array, allow_pickle=False)
        written.append(target)
    return written


def run(args: argparse.Namespace) -> int:
    """Build the session, run once, report."""
    import numpy as np

    from ..runtime.loader import init
    from ..runtime.session import SessionBuilder

    if args.strict and not args.providers:
        args.error("--strict needs --providers (the providers to insist on)")
    init(args.dist)
    feeds = _load_inputs(args.input)
    builder = SessionBuilder.from_file(args.model)
    if args.providers:
        builder.with_providers(*args.providers, strict=args.strict)
    session = builder.build()
    outputs = session.run(feeds)
    print(f"ran {args.model} on {', '.join(session.providers)}")
    for fallback in session.fallbacks:
        print(f"  fallback: {fallback.provider}: {fallback.reason}")
    if args.output_dir:
        for path in _save(outputs, args.output_dir):
            print(f"  wrote {path}")
        return 0
    for name, value in outputs.items():
        array = np.asarray(value)
        preview = np.array2string(array.ravel()[:6], precision=4, separator=", ")
        more = "..." if array.size > 6 else ""
        print(f"  {name}: {array.dtype} {list(array.shape)} {preview}{more}")
    return 0

"""The ``ort-wrapper`` command: one ``main_<verb>.py`` module per verb, discovered by name.

Each verb module defines ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``, and imports its heavy dependencies inside ``run`` so that
``ort-wrapper --help`` stays fast. A verb raises its errors; ``_run`` here is the one place
they are printed (docs/architecture-notes.md, "Errors: one convention"). Exit codes: 0 ok,
1 failure, 2 usage error (argparse's, or an ``OutputError``: a report file that cannot be).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import signal
import sys
import threading
from collections.abc import Sequence

from ..errors import OrtWrapperError, OutputError
from ..escape import terminal_text

__all__ = ["main"]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class _Terminated(BaseException):
    """SIGTERM, raised where the verb is, so its cleanup runs (a confined child is killed with
    all it started, temporary directories are removed) as for Ctrl-C."""


def _terminate(signum: int, frame: object) -> None:
    raise _Terminated


def _verbs() -> dict[str, object]:
    names = sorted(
        info.name.removeprefix("main_")
        for info in pkgutil.iter_modules(__path__)
        if info.name.startswith("main_")
    )
    return {n.replace("_", "-"): importlib.import_module(f"{__name__}.main_{n}") for n in names}


def _parser(verbs: dict[str, object]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ort-wrapper",
        description="Build, package, load and validate ONNX Runtime distributions.",
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="debug logs and tracebacks")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    for name, module in verbs.items():
        verb = sub.add_parser(name, help=module.HELP, description=module.HELP)
        verb.add_argument(
            "--verbose",
            "-v",
            action="store_true",
            default=argparse.SUPPRESS,
            help="debug logs and tracebacks",
        )
        module.add_arguments(verb)
        verb.set_defaults(_run=module.run, error=verb.error)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    args = _parser(_verbs()).parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="ort-wrapper: %(levelname)s: %(message)s",
    )
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    try:
        return _run(args)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace) -> int:
    """The verb, with every error it may end with turned into a message and an exit code."""
    try:
        return int(args._run(args))
    except OutputError as exc:  # a report file that cannot be: a usage error
        if args.verbose:
            raise
        print(f"ort-wrapper {args.verb}: {terminal_text(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except OrtWrapperError as exc:
        if args.verbose:
            raise
        print(f"ort-wrapper {args.verb}: error: {terminal_text(str(exc))}", file=sys.stderr)
        return EXIT_FAILURE
    except OSError as exc:  # a file the user named cannot be read or written
        if args.verbose:
            raise
        where = f": {exc.filename}" if exc.filename else ""
        text = terminal_text(f"{exc.strerror or exc}{where}")
        print(f"ort-wrapper {args.verb}: error: {text}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print(f"ort-wrapper {args.verb}: interrupted", file=sys.stderr)
        return 130
    except _Terminated:
        print(f"ort-wrapper {args.verb}: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM

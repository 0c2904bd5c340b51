"""argparse types shared by the verbs that take model inputs (``run``, ``check``)."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["named_file", "named_size", "positive_seconds", "tolerance"]


def named_file(value: str) -> tuple[str, Path]:
    """NAME=FILE.npy."""
    name, sep, path = value.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=FILE.npy, got {value!r}")
    return name, Path(path)


def named_size(value: str) -> tuple[str, int]:
    """NAME=SIZE for a symbolic dimension (or INPUT[AXIS]=SIZE), SIZE >= 1."""
    name, sep, size = value.rpartition("=")
    if not sep or not name or not size.isdigit() or int(size) < 1:
        raise argparse.ArgumentTypeError(f"expected NAME=SIZE with SIZE >= 1, got {value!r}")
    return name, int(size)


def _number(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {value!r}") from None


def positive_seconds(value: str) -> float:
    """A time limit above 0 s."""
    number = _number(value)
    if not number > 0:
        raise argparse.ArgumentTypeError(f"expected seconds above 0, got {value!r}")
    return number


def tolerance(value: str) -> float:
    """A tolerance >= 0."""
    number = _number(value)
    if not number >= 0:
        raise argparse.ArgumentTypeError(f"expected a tolerance >= 0, got {value!r}")
    return number

"""A verb's ``--json FILE`` report file: refused before the work when it cannot be written,
written atomically after it; either failure is an ``OutputError`` for the one CLI handler."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import OutputError
from ..files import output_problem, write_json_atomic

__all__ = ["refuse_unwritable", "write_report"]


def refuse_unwritable(path: Path, inputs: Iterable[Path | None]) -> None:
    """OutputError when ``path`` cannot be the report file (one of ``inputs``, a directory, an
    unwritable folder...): asked before any work starts."""
    if (problem := output_problem(path, inputs)) is not None:
        raise OutputError(path, problem)


def write_report(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path``; OutputError with the system's reason when it fails."""
    try:
        write_json_atomic(path, data)
    except OSError as exc:
        raise OutputError(path, exc.strerror or str(exc)) from exc

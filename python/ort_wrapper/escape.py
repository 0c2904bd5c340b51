"""Untrusted strings made safe for the language that reads them: shell assignments for
``eval``. A string with control characters is refused, never passed through."""

from __future__ import annotations

import re
import unicodedata

from .errors import OrtWrapperError

__all__ = ["EscapeError", "shell_export", "shell_quote"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class EscapeError(OrtWrapperError):
    """A string cannot be written safely in the target language."""


def _refuse_controls(text: str, what: str) -> None:
    bad = [c for c in text if unicodedata.category(c) in ("Cc", "Zl", "Zp")]
    if bad:
        raise EscapeError(f"{what} {text!r} holds the control character {bad[0]!r}: refused")


def shell_quote(text: str, what: str = "the value") -> str:
    """``text`` as one POSIX shell word: single-quoted, each ``'`` written as ``'\\''``."""
    _refuse_controls(text, what)
    return "'" + text.replace("'", "'\\''") + "'"


def shell_export(name: str, value: str, *, prepend: bool = False) -> str:
    """An ``export NAME=value`` line; with ``prepend``, ``value`` goes before what ``NAME``
    already holds (a ``:``-separated list, so ``value`` may hold no ``:``)."""
    if not _NAME.match(name):
        raise EscapeError(f"{name!r} is not a shell variable name")
    what = f"the value of {name}"
    if prepend and ":" in value:
        raise EscapeError(f"{what} {value!r} holds ':', the list separator: refused")
    word = shell_quote(value, what)
    if prepend:
        word += f'"${{{name}:+:${name}}}"'
    return f"export {name}={word}"

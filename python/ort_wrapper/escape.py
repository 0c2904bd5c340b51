"""The one escaper per language an untrusted string enters: cargo build-script lines, CMake,
the shell, pkg-config, ONNX Runtime's operator config, a wheel's RECORD, ccache's config file,
and the terminal.

A string from a manifest, a model, a file name or a library can hold anything. Each function
here returns text that the target's own parser reads back as exactly one item equal to the
input, or raises :class:`~ort_wrapper.errors.EscapeError` naming ``what`` and the reason;
only :func:`terminal_text` encodes instead of refusing. Control characters (and the Unicode
line and paragraph separators) are refused everywhere else: no target here takes them safely.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable

from .errors import EscapeError

__all__ = [
    "cargo_directive",
    "ccache_config_value",
    "cmake_comment",
    "cmake_list_item",
    "cmake_quoted",
    "ort_config_comment",
    "pkgconfig_text",
    "pkgconfig_word",
    "shell_export",
    "shell_join",
    "shell_quote",
    "terminal_text",
    "text_problem",
    "wheel_record_line",
]

# Rust's char::is_whitespace (Unicode White_Space): what cargo's trim removes
_RUST_SPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)
_CARGO_KEY = re.compile(r"^[a-z][a-z0-9_-]*$")
_SHELL_PLAIN = re.compile(r"^[A-Za-z0-9_@%+=:,./-]+$")
_SHELL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# what a pkg-config word may hold: no whitespace, quote, backslash, '#', '$' (pkg-config's own
# syntax) and nothing a shell reading its output would take as syntax
_PC_WORD = re.compile(r"^[A-Za-z0-9_+\-.,/=:@%]+$")


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot enter any target but the terminal (None when it can): a control
    character, a line or paragraph separator, or a lone surrogate (not UTF-8)."""
    for char in text:
        category = unicodedata.category(char)
        if category in ("Cc", "Zl", "Zp"):
            return f"holds U+{ord(char):04X}, a control character or line break"
        if category == "Cs":
            return f"holds U+{ord(char):04X}, which is not UTF-8 text"
    return None


def _checked(text: str, what: str, target: str) -> str:
    problem = text_problem(text)
    if problem is not None:
        raise EscapeError(f"{what} {text!r} {problem}: refused in {target}")
    return text


def _refuse(text: str, what: str, target: str, why: str) -> EscapeError:
    return EscapeError(f"{what} {text!r} {why}: refused in {target}")


def cargo_directive(key: str, value: str, what: str) -> str:
    """The build-script line ``cargo:KEY=VALUE``: cargo splits its output at newlines, trims
    each line and the value's end, so ``value`` may hold no control character and may not
    end in whitespace."""
    if not _CARGO_KEY.match(key):
        raise _refuse(key, "the cargo directive", "a build script's output", "is not a key")
    _checked(value, what, "a cargo build-script line")
    if value and value[-1] in _RUST_SPACE:
        raise _refuse(value, what, "a cargo build-script line", "ends in whitespace")
    return f"cargo:{key}={value}"


def cmake_quoted(text: str, what: str) -> str:
    """``text`` as the body of a CMake quoted argument (``"…"``): backslash, quote and ``$``
    escaped, so no variable reference is expanded."""
    _checked(text, what, "CMake")
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")


def cmake_list_item(text: str, what: str) -> str:
    """``text``, checked to be one item of a CMake list that CMake splits and evaluates as
    generator expressions (a link or include property, ``${VAR}`` of ``link-flags``); quote it
    with :func:`cmake_quoted` inside a script. Refused: empty, ``;``, ``[`` or ``]`` (they split
    or join items), ``$<`` (a generator expression), a final backslash (it escapes the next
    separator)."""
    _checked(text, what, "a CMake list")
    if not text or ";" in text or "[" in text or "]" in text:
        why = "is empty" if not text else "holds ';', '[' or ']', which split CMake list items"
        raise _refuse(text, what, "a CMake list", why)
    if "$<" in text:
        raise _refuse(text, what, "a CMake list", "holds '$<', a generator expression")
    if text.endswith("\\"):
        raise _refuse(text, what, "a CMake list", "ends in a backslash")
    return text


def cmake_comment(text: str) -> str:
    """``text`` safe in one ``#`` comment line: every character that is not printable
    becomes ``?``."""
    return "".join(c if c.isprintable() else "?" for c in text)


def shell_quote(text: str, what: str = "the value") -> str:
    """``text`` as one POSIX shell word: single-quoted, each ``'`` written as ``'\\''``."""
    _checked(text, what, "a shell word")
    return "'" + text.replace("'", "'\\''") + "'"


def shell_join(words: Iterable[str], what: str) -> str:
    """``words`` as one shell command line: a word of letters, digits and ``_@%+=:,./-`` as it
    is, any other single-quoted (:func:`shell_quote`)."""
    return " ".join(w if _SHELL_PLAIN.match(w) else shell_quote(w, what) for w in words)


def shell_export(name: str, value: str, *, prepend: bool = False) -> str:
    """An ``export NAME=value`` line for ``eval``; with ``prepend``, ``value`` goes before what
    ``NAME`` already holds (a ``:``-separated list, so ``value`` may hold no ``:``)."""
    if not _SHELL_NAME.match(name):
        raise EscapeError(f"{name!r} is not a shell variable name")
    what = f"the value of {name}"
    if prepend and ":" in value:
        raise EscapeError(f"{what} {value!r} holds ':', the list separator: refused")
    word = shell_quote(value, what)
    if prepend:
        word += f'"${{{name}:+:${name}}}"'
    return f"export {name}={word}"


def pkgconfig_word(text: str, what: str, *, variables: tuple[str, ...] = ()) -> str:
    """``text`` as one word of a ``.pc`` field (``Libs``, ``Cflags``) or a variable used in
    one: letters, digits and ``_+-.,/=:@%`` only (pkg-config splits words like a shell and
    expands ``${…}``). The references ``${NAME}`` for NAME in ``variables`` are kept."""
    _checked(text, what, "a pkg-config word")
    pieces = (
        re.split("|".join(re.escape(f"${{{v}}}") for v in variables), text) if variables else [text]
    )
    if not text or any(p and not _PC_WORD.match(p) for p in pieces):
        raise _refuse(
            text,
            what,
            "a pkg-config word",
            "is empty or holds a character other than letters, digits and _+-.,/=:@%",
        )
    return text


def pkgconfig_text(text: str, what: str) -> str:
    """``text`` as the value of a free-text ``.pc`` field (``Description``, ``Version``): no
    ``$`` (a variable reference), ``#`` (a comment) or backslash, no surrounding whitespace."""
    _checked(text, what, "a pkg-config field")
    if any(c in text for c in "$#\\") or text != text.strip():
        raise _refuse(
            text, what, "a pkg-config field", "holds '$', '#' or '\\', or surrounding spaces"
        )
    return text


def wheel_record_line(name: str, digest: str, size: str) -> str:
    """One row of a wheel's ``RECORD`` (CSV; a ``,`` or ``"`` is quoted). auditwheel splits the
    file with ``str.splitlines``, so a name holding a line break of any kind is refused."""
    _checked(name, "the file name", "a wheel's RECORD")
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow([name, digest, size])
    return out.getvalue().removesuffix("\n")


def ort_config_comment(text: str, what: str) -> str:
    """``text`` for a ``#`` line of ONNX Runtime's operator config: ORT reads the file line by
    line (``\\n``, ``\\r``) and strips each line, so no control character, line separator or
    surrounding whitespace."""
    _checked(text, what, "ONNX Runtime's operator config")
    if not text or text != text.strip():
        why = "is empty or has surrounding spaces"
        raise _refuse(text, what, "ONNX Runtime's operator config", why)
    return text


def ccache_config_value(text: str, what: str) -> str:
    """``text`` as the value of one ``key = value`` line of ccache's config file, read back
    as one item of a space-separated list (``remote_storage``): ccache splits the file at line
    breaks, trims each value, expands ``$NAME`` and ``${NAME}`` (``$$`` is no escape) and
    splits the list at spaces: no whitespace, control character or ``$``, and not empty."""
    _checked(text, what, "ccache's config file")
    if not text or "$" in text or any(c.isspace() for c in text):
        why = "is empty or holds whitespace or '$' (ccache expands variables)"
        raise _refuse(text, what, "ccache's config file", why)
    return text


def terminal_text(text: str, *, keep: str = "\n") -> str:
    """``text`` safe to print: every character that is not printable (escape sequences, bidi
    and line separators) but those in ``keep`` is written as its Python escape (``\\x1b``)."""
    return "".join(c if c.isprintable() or c in keep else repr(c)[1:-1] for c in text)

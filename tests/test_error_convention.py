"""The error convention of docs/architecture-notes.md, held by the code under python/ort_wrapper.

- A broad handler (``except Exception``, ``except BaseException``, a bare ``except:``, or a
  tuple holding one of them) stands only at a boundary that needs it, and says which on its own
  line with a comment; one that only cleans up and re-raises (its body ends in a bare
  ``raise``) needs none.
- No module prints "cannot write": a write that fails is an ``OutputError`` (or the ``OSError``
  itself) raised to the one handler of the command line, ``cli._run``, which prints it; and no
  verb returns exit code 2 itself (a usage error is argparse's, or the handler's).
"""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parent.parent / "python" / "ort_wrapper"
NOTES = SOURCE.parent.parent / "docs" / "architecture-notes.md"
_BROAD = {"Exception", "BaseException"}


def _commented_lines(source: str) -> set[int]:
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return {t.start[0] for t in tokens if t.type == tokenize.COMMENT}


def _is_broad(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(n, ast.Name) and n.id in _BROAD for n in names)


def _reraises(handler: ast.ExceptHandler) -> bool:
    last = handler.body[-1]
    return isinstance(last, ast.Raise) and last.exc is None


def uncommented_broad_handlers(source: str) -> list[int]:
    """The lines of broad handlers that neither re-raise nor carry a comment saying why."""
    commented = _commented_lines(source)
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ExceptHandler)
        and _is_broad(node)
        and not _reraises(node)
        and node.lineno not in commented
    ]


def _strings(node: ast.AST) -> list[str]:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and type(n.value) is str]


def cannot_write_prints(source: str) -> list[int]:
    """The lines of ``print(...)`` calls whose text says "cannot write"."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "print"
        and any("cannot write" in s for s in _strings(node))
    ]


def usage_exits(source: str) -> list[int]:
    """The lines of ``return 2`` statements."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Return)
        and isinstance(node.value, ast.Constant)
        and node.value.value == 2
    ]


def _modules() -> list[Path]:
    return sorted(SOURCE.rglob("*.py"))


def test_the_checks_find_what_they_look_for() -> None:
    bad = """
try:
    pass
except Exception as exc:
    log(exc)
except (OSError, BaseException):
    pass
except:  # a bare except, commented: allowed
    pass
"""
    assert uncommented_broad_handlers(bad) == [4, 6]
    fine = "try:\n    x()\nexcept BaseException:\n    undo()\n    raise\n"
    assert uncommented_broad_handlers(fine) == []
    assert uncommented_broad_handlers("try:\n    x()\nexcept:\n    s = '# not a comment'\n") == [3]
    printed = 'print(f"x: cannot write {p}: {why}", file=sys.stderr)\nraise E("cannot write")\n'
    assert cannot_write_prints(printed) == [1]
    assert usage_exits("def run():\n    if x:\n        return 2\n    return 0\n") == [3]


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SOURCE)))
def test_every_broad_handler_says_why(path: Path) -> None:
    lines = uncommented_broad_handlers(path.read_text())
    assert not lines, (
        f"{path.relative_to(SOURCE)}: lines {lines}: catch what can be raised, or, at a "
        "boundary that needs everything, say why in a comment on the except line"
    )


def test_no_module_prints_cannot_write() -> None:
    found = {
        str(p.relative_to(SOURCE)): lines
        for p in _modules()
        if (lines := cannot_write_prints(p.read_text()))
    }
    assert not found, f"raise OutputError (or let the OSError go) to the CLI handler: {found}"


def test_no_verb_returns_a_usage_error_itself() -> None:
    verbs = sorted((SOURCE / "cli").glob("main_*.py"))
    found = {p.name: lines for p in verbs if (lines := usage_exits(p.read_text()))}
    assert verbs and not found, f"raise (OutputError for a report file) instead: {found}"


def test_the_notes_state_the_convention() -> None:
    text = NOTES.read_text()
    assert "## Errors: one convention" in text
    for term in ("OrtWrapperError", "OutputError", "`Check`", "_problem", "except Exception"):
        assert term in text, term

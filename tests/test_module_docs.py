"""Every module under python/ort_wrapper opens with a docstring whose first sentence says what
the module does, so a reader can tell each module's job in one sentence.

A first sentence is the docstring up to its first full stop (or its first blank line); it must
have at least ``MIN_WORDS`` words and be a statement, not a question.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

MIN_WORDS = 5
SOURCE = Path(__file__).resolve().parent.parent / "python" / "ort_wrapper"


def first_sentence(source: str) -> str | None:
    """The module docstring's first sentence, on one line; None without a docstring."""
    doc = ast.get_docstring(ast.parse(source))
    if not doc:
        return None
    paragraph = " ".join(doc.strip().split("\n\n", 1)[0].split())
    return re.split(r"(?<=[.?!])\s", paragraph, maxsplit=1)[0]


def problem(source: str) -> str | None:
    """Why ``source``'s module docstring does not say what the module does, or None."""
    sentence = first_sentence(source)
    if sentence is None:
        return "no module docstring"
    if sentence.endswith("?"):
        return f"its first sentence is a question: {sentence!r}"
    if len(re.findall(r"[\w`'()./-]+", sentence)) < MIN_WORDS:
        return f"its first sentence has fewer than {MIN_WORDS} words: {sentence!r}"
    return None


def test_every_module_says_what_it_does() -> None:
    modules = sorted(SOURCE.rglob("*.py"))
    assert len(modules) > 50  # the tree is where this test thinks it is
    found = {str(p.relative_to(SOURCE)): problem(p.read_text()) for p in modules}
    bad = {name: why for name, why in found.items() if why}
    assert not bad, "modules whose docstring does not say what they do:\n" + "\n".join(
        f"  {name}: {why}" for name, why in bad.items()
    )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("x = 1\n", "no module docstring"),
        ('"""``python -m x``."""\n', "fewer than 5 words"),
        ('"""Does a provider run? More."""\n', "a question"),
        ('"""Reads the manifest of a distribution. Then more."""\n', None),
    ],
)
def test_the_guard_names_what_is_missing(source: str, expected: str | None) -> None:
    why = problem(source)
    assert (why is None) if expected is None else (why is not None and expected in why)

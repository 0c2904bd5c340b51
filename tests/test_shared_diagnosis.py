"""``check`` and ``doctor`` judge whether shared objects load through one diagnosis
(``elf/loadable.py``: every closure and the symbol versions, read before loading), and check's
static link checks through link-check's readers (``linkcheck``): a module of theirs that calls
the lower-level readers itself (a second path to the same verdict) fails here until it uses the
shared one or is listed below with why, as tests/test_import_graph.py does for imports.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent / "python" / "ort_wrapper"
JUDGES = ("check", "doctor", "runtime/capi/static.py")
# What decides loadability or reads symbols, below the shared diagnosis and link-check.
LOWER = frozenset(
    {
        "resolve_closure",  # DT_NEEDED closures
        "check_versions",  # GLIBC/GLIBCXX/CXXABI against a host
        "max_required",
        "provided_by",
        "archive_symbols",  # every member's symbols (finalize's reader)
        "elf_object_symbols",
        "read_elf_object",
    }
)
# (module, called name) -> why it is not the shared verdict
ALLOWED: dict[tuple[str, str], str] = {}
# Each must call the shared path: (module, name)
REQUIRED = {
    ("check/linking.py", "diagnose_load"),
    ("check/linking.py", "link_check"),
    ("doctor/distributions.py", "diagnose_load"),
    ("doctor/providers.py", "diagnose_load"),
    ("runtime/distribution.py", "diagnose_load"),
}


def _calls(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                yield func.id
            elif isinstance(func, ast.Attribute):
                yield func.attr


def _modules() -> Iterator[Path]:
    for judge in JUDGES:
        where = SOURCE / judge
        yield from sorted(where.rglob("*.py")) if where.is_dir() else [where]


def test_check_and_doctor_use_the_shared_readers() -> None:
    found = {
        (str(path.relative_to(SOURCE)), name)
        for path in _modules()
        for name in _calls(path)
        if name in LOWER
    }
    second = sorted(found - set(ALLOWED))
    assert not second, f"a second path to a loadability or symbol verdict: {second}"
    stale = sorted(set(ALLOWED) - found)
    assert not stale, f"allowed entries the code no longer has: {stale}"


def test_the_shared_readers_are_called_where_they_decide() -> None:
    called = {
        (str(path.relative_to(SOURCE)), name)
        for path in (SOURCE / module for module, _ in REQUIRED)
        for name in _calls(path)
    }
    assert called >= REQUIRED, f"no longer calling the shared path: {sorted(REQUIRED - called)}"


def test_the_guard_sees_calls() -> None:
    """The scan finds a known call (so an empty result means no call, not a blind scan)."""
    assert "resolve_closure" in set(_calls(SOURCE / "elf" / "loadable.py"))

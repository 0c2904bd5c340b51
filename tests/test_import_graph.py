"""The imports between the stages of python/ort_wrapper are the ones docs/architecture-notes.md
lists and explains: a new one fails until the note says why, and a row the code no longer needs
fails until the note drops it.

A stage is a sub-package (``bundle``, ``runtime``, ...) or the package's ``__init__``; the shared
modules every stage may import are left out, as is ``cli``, which imports every stage. Imports
inside functions count.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "python" / "ort_wrapper"
NOTES = REPO / "docs" / "architecture-notes.md"
SHARED = frozenset(
    {
        "errors",
        "escape",
        "files",
        "untrusted",
        "progress",
        "matrix",
        "manifest",
        "operators",
        "report",
        "elf",
    }
)


def _unit(parts: tuple[str, ...]) -> str:
    """'runtime' for ort_wrapper.runtime.capi.api, 'files' for ort_wrapper.files."""
    return parts[1] if len(parts) > 1 else "__init__"


def _imported(path: Path, source: Path) -> Iterator[tuple[str, ...]]:
    """The ort_wrapper modules (and names) ``path`` (under ``source``) imports, as parts."""
    parts = ("ort_wrapper", *path.relative_to(source).with_suffix("").parts)
    package = parts[:-1]  # a module's package; an __init__'s own package
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else ()
            module = (*base, *(node.module.split(".") if node.module else ()))
            yield from ((*module, alias.name) for alias in node.names)
        elif isinstance(node, ast.Import):
            yield from (tuple(alias.name.split(".")) for alias in node.names)


def import_edges(source: Path = SOURCE) -> dict[tuple[str, str], set[str]]:
    """(importing unit, imported unit) -> the importing modules, across units."""
    edges: dict[tuple[str, str], set[str]] = {}
    for path in sorted(source.rglob("*.py")):
        here = _unit(("ort_wrapper", *path.relative_to(source).with_suffix("").parts))
        for target in _imported(path, source):
            if target[0] == "ort_wrapper" and len(target) > 1 and _unit(target) != here:
                edges.setdefault((here, _unit(target)), set()).add(str(path.relative_to(source)))
    return edges


def documented_edges(text: str) -> set[tuple[str, str]]:
    """The (from, to) rows of the note's table of imports between stages."""
    return set(re.findall(r"^\| `([\w]+)` \| `([\w]+)` \|", text, flags=re.M))


def test_the_unit_of_a_module() -> None:
    assert _unit(("ort_wrapper", "runtime", "capi", "api")) == "runtime"
    assert _unit(("ort_wrapper", "files")) == "files" and _unit(("ort_wrapper",)) == "__init__"


def test_shared_modules_import_only_shared_modules() -> None:
    wrong = {e: m for e, m in import_edges().items() if e[0] in SHARED and e[1] not in SHARED}
    assert not wrong, f"a shared module imports a stage: {wrong}"


def test_imports_between_stages_are_the_documented_ones() -> None:
    edges = import_edges()
    stages = {e: m for e, m in edges.items() if e[0] != "cli" and e[1] not in SHARED}
    assert ("lab", "finalize") in stages  # the scan sees imports at all
    documented = documented_edges(NOTES.read_text())
    new = {f"{a} -> {b} ({', '.join(sorted(stages[a, b]))})" for a, b in stages.keys() - documented}
    assert not new, f"imports between stages that {NOTES.name} does not explain: {sorted(new)}"
    stale = documented - stages.keys()
    assert not stale, f"{NOTES.name} lists imports the code no longer has: {sorted(stale)}"

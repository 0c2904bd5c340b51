"""No import circles inside python/ort_wrapper: a module never imports, directly or through
others, a module that imports it back.

Module-level imports count, and so do lazy ones (inside a function, or under
``if __name__ == "__main__"``): a lazy import only defers a circle to the first call, and a
reader still has to follow it (``farm-studio look`` counts them too). Imports under
``if TYPE_CHECKING:`` are left out: they never run. An edge goes to the module named (``from .a
import b`` to ``a.b`` when that is a module, else to ``a``), not to the packages above it that
Python runs first. Like ``test_import_graph.py``, the scan reads the source with ``ast``.
"""

from __future__ import annotations

import ast
from pathlib import Path

from ort_wrapper.finalize.linkorder import strongly_connected

SOURCE = Path(__file__).resolve().parent.parent / "python" / "ort_wrapper"


def _module_name(path: Path, source: Path) -> str:
    parts = (source.name, *path.relative_to(source).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING")


def _imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement but those under ``if TYPE_CHECKING:``."""
    found, stack = [], list(tree.body)
    while stack:
        node = stack.pop()
        if _type_checking(node):
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return found


def import_graph(source: Path = SOURCE) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports (at module level or lazily)."""
    paths = {_module_name(p, source): p for p in sorted(source.rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        targets: set[str] = set()
        for node in _imports(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
                continue
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            for alias in node.names:
                full = f"{module}.{alias.name}"
                targets.add(full if full in paths else module)
        graph[name] = {t for t in targets if t in paths and t != name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module, each sorted (finalize's Tarjan,
    the one the link order uses)."""
    return [list(group) for group in strongly_connected(graph) if len(group) > 1]


def test_the_scan_finds_a_circle_through_a_lazy_import(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text("from .sub import b\n")
    (package / "sub" / "b.py").write_text("def f():\n    from ..c import x\n")
    (package / "c.py").write_text("from . import a\nx = 1\n")
    (package / "d.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import y\n"
    )
    graph = import_graph(package)
    assert graph["pkg.sub.b"] == {"pkg.c"} and graph["pkg.d"] == set()
    assert circles(graph) == [["pkg.a", "pkg.c", "pkg.sub.b"]]


def test_no_import_circles() -> None:
    graph = import_graph()
    assert "ort_wrapper.runtime.loader" in graph["ort_wrapper"]  # the scan sees imports
    found = circles(graph)
    assert not found, "import circles (break each; see docs/architecture-notes.md): " + "; ".join(
        " <-> ".join(group) for group in found
    )

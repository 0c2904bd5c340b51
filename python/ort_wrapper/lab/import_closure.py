"""The ort_wrapper source files a module depends on: its imports, followed transitively.

The lab's result key hashes the code of ``finalize`` through this, so a module finalize
starts to import counts without anyone keeping a list.
"""

from __future__ import annotations

import ast
from pathlib import Path

__all__ = ["module_closure"]

_PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # .../ort_wrapper


def _module_file(dotted: str) -> Path | None:
    """``ort_wrapper.a.b`` -> its ``.py`` file (a package's ``__init__.py``), if any."""
    parts = dotted.split(".")[1:]
    base = _PACKAGE_ROOT.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _dotted(path: Path) -> str:
    rel = path.relative_to(_PACKAGE_ROOT.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _imported(path: Path) -> set[str]:
    """Dotted names of the ort_wrapper modules (and packages) ``path`` imports."""
    here = _dotted(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("ort_wrapper"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            if module.split(".")[0] == "ort_wrapper":
                names.add(module)
                names.update(f"{module}.{a.name}" for a in node.names)
    return names


def module_closure(dotted: str) -> list[Path]:
    """Every ort_wrapper file ``dotted`` needs: the modules it imports (transitively, at any
    depth, lazy imports included), their packages' ``__init__.py``, and the JSON data files
    beside each of them. Sorted."""
    seen: set[Path] = set()
    todo = [dotted]
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for i in range(2, len(parts) + 1):  # the module and every package above it
            path = _module_file(".".join(parts[:i]))
            if path is not None and path not in seen:
                seen.add(path)
                todo.extend(_imported(path))
    data = {j for p in seen for j in p.parent.glob("*.json")}
    return sorted(seen | data)

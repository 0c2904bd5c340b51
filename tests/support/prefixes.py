"""The one builder of distribution prefixes for tests: a directory holding
``share/ort-wrapper/manifest.json`` and the files it lists.

Two kinds of content:
- ``wheel="python"``: a copy of the installed onnxruntime package in ``python/onnxruntime``, its
  libraries listed where the wheel keeps them (``python/onnxruntime/capi``), as a bundle has it;
  ``wheel="lib"``: the same, with the core and provider libraries copied to ``lib/`` and listed
  there, as a build's install prefix has it. About 50 MiB: for tests that load or run it.
- ``wheel=None``: a tiny prefix of a few kilobytes: one real small ELF library
  ``lib/libonnxruntime.so.1`` (unless ``core=False``), and with ``module=VERSION`` a stub
  ``python/onnxruntime/__init__.py`` declaring that version (enough for every check that
  ``locate()`` makes before anything is imported).

The manifest is written as raw JSON, so tests can give any field, hostile ones included.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any, Literal

from ort_wrapper.manifest import MANIFEST_RELPATH

from support.bundles import cpu_package, small_elf

__all__ = ["make_prefix", "manifest_of", "rewrite_manifest"]


def _entry(root: Path, path: Path, kind: str = "shared") -> dict[str, str]:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return {"path": path.relative_to(root).as_posix(), "kind": kind, "sha256": digest}


def _copy_wheel(root: Path, layout: Literal["python", "lib"]) -> list[dict[str, str]]:
    package = root / "python" / "onnxruntime"
    shutil.copytree(cpu_package(), package, ignore=shutil.ignore_patterns("__pycache__"))
    if layout == "python":
        return [_entry(root, p) for p in sorted((package / "capi").glob("*.so*"))]
    (root / "lib").mkdir()
    entries = []
    for so in sorted((package / "capi").glob("libonnxruntime*.so*")):
        entries.append(_entry(root, Path(shutil.copy2(so, root / "lib" / so.name))))
    return entries


def make_prefix(
    root: Path,
    *,
    wheel: Literal["python", "lib"] | None = None,
    core: bool = True,
    module: str | None = None,
    files: list[dict[str, Any]] | None = None,
    **fields: Any,
) -> Path:
    """A prefix at ``root`` (see the module docstring); ``files`` are added to the manifest's
    entries as given, ``fields`` override its other keys (``version``, ``linkMode``, ...)."""
    root.mkdir(parents=True, exist_ok=True)
    entries: list[dict[str, Any]] = []
    python_path = None
    providers = ["CPUExecutionProvider"]
    if wheel is not None:
        entries = _copy_wheel(root, wheel)
        python_path = "python"
        providers = ["AzureExecutionProvider", "CPUExecutionProvider"]  # the wheel's
    else:
        if core:
            entries.append(_entry(root, small_elf(root / "lib", "libonnxruntime.so.1")))
        if module is not None:
            package = root / "python" / "onnxruntime"
            package.mkdir(parents=True)
            (package / "__init__.py").write_text(f'__version__ = "{module}"\n')
            python_path = "python"
    manifest = {
        "schema": 1,
        "name": "onnxruntime",
        "version": "1.23.2",
        "variant": "pypi-cpu" if wheel == "python" else "cpu",
        "linkMode": "shared",
        "providers": providers,
        "files": [*entries, *(files or [])],
        "pythonPath": python_path,
        **fields,
    }
    rewrite_manifest(root, manifest)
    return root


def manifest_of(root: Path) -> dict[str, Any]:
    """The prefix's manifest as JSON."""
    return json.loads((root / MANIFEST_RELPATH).read_text())


def rewrite_manifest(root: Path, data: dict[str, Any] | None = None, **changes: Any) -> Path:
    """Write ``data`` (default: the prefix's manifest) with ``changes`` as its manifest."""
    data = {**(manifest_of(root) if data is None else data), **changes}
    path = root / MANIFEST_RELPATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path

"""The ``onnxruntime`` Python package that a build with ``onnxruntime_ENABLE_PYTHON=ON`` assembles.

ORT's ``cmake/onnxruntime_python.cmake`` copies the package sources, the pybind module
(``capi/onnxruntime_pybind11_state*.so``) and the provider libraries it loads into
``$<TARGET_FILE_DIR:onnxruntime_common>/onnxruntime/``, which is the build directory itself with
Ninja or Make. ``finalize`` installs that tree as ``lib/python/onnxruntime``, so the distribution
carries a module that ``init()`` can import.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ..errors import BuildError
from .transaction import Transaction

__all__ = ["PYTHON_FLAG", "PYTHON_PACKAGE_DIR", "stage_python_package"]

PYTHON_FLAG = "onnxruntime_ENABLE_PYTHON"
PYTHON_PACKAGE_DIR = "lib/python"  # in a distribution (a bundle has its own, bundle.source)
_PYBIND_GLOB = "onnxruntime_pybind11_state*.so"


def stage_python_package(tx: Transaction, build_dir: Path) -> None:
    """Stage ``build_dir/onnxruntime`` as ``lib/python/onnxruntime``."""
    package = build_dir / "onnxruntime"
    if not (package / "__init__.py").is_file() or not list((package / "capi").glob(_PYBIND_GLOB)):
        raise BuildError(
            f"the variant sets {PYTHON_FLAG} but the build tree has no Python package: expected "
            f"{package}/__init__.py and {package}/capi/{_PYBIND_GLOB}"
        )
    for path in sorted(package.rglob("*")):
        if path.is_file() and not path.is_symlink() and "__pycache__" not in path.parts:
            rel = path.relative_to(build_dir)
            shutil.copy2(path, tx.path_for(f"{PYTHON_PACKAGE_DIR}/{rel}"))

"""The ``onnxruntime`` Python package that a build with ``onnxruntime_ENABLE_PYTHON=ON`` assembles.

ORT's ``cmake/onnxruntime_python.cmake`` copies the package sources, the pybind module
(``capi/onnxruntime_pybind11_state*.so``) and the provider libraries it loads into
``$<TARGET_FILE_DIR:onnxruntime_common>/onnxruntime/``, which is the build directory itself with
Ninja or Make. ``finalize`` installs that tree as ``lib/python/onnxruntime``, so the distribution
carries a module that ``init()`` can import.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import BuildError

__all__ = ["PYTHON_FLAG", "PYTHON_PACKAGE_DIR", "python_package_files"]

PYTHON_FLAG = "onnxruntime_ENABLE_PYTHON"
PYTHON_PACKAGE_DIR = "lib/python"  # in a distribution (a bundle has its own, bundle.source)
_PYBIND_GLOB = "onnxruntime_pybind11_state*.so"


def python_package_files(build_dir: Path) -> dict[str, Path]:
    """The files of ``build_dir/onnxruntime`` (relpath from ``build_dir`` -> path), which
    finalize installs under ``lib/python``; BuildError when the build made no package."""
    package = build_dir / "onnxruntime"
    if not (package / "__init__.py").is_file() or not list((package / "capi").glob(_PYBIND_GLOB)):
        raise BuildError(
            f"the variant sets {PYTHON_FLAG} but the build tree has no Python package: expected "
            f"{package}/__init__.py and {package}/capi/{_PYBIND_GLOB}"
        )
    return {
        str(path.relative_to(build_dir)): path
        for path in sorted(package.rglob("*"))
        if path.is_file() and not path.is_symlink() and "__pycache__" not in path.parts
    }

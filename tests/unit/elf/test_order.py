"""dependency_order: libraries after what they need, on real ELF files."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import onnxruntime

from ort_wrapper.elf.order import dependency_order

SHARED = Path(onnxruntime.__file__).parent / "capi" / "libonnxruntime_providers_shared.so"


def _lib(directory: Path, name: str, *needed: str) -> Path:
    path = directory / name
    shutil.copy(SHARED, path)
    subprocess.run(["patchelf", "--set-soname", name, str(path)], check=True)
    for dep in needed:
        subprocess.run(["patchelf", "--add-needed", dep, str(path)], check=True)
    return path


def test_dependencies_come_first(tmp_path: Path) -> None:
    top = _lib(tmp_path, "libtop.so", "libmid.so", "libbase.so")
    mid = _lib(tmp_path, "libmid.so", "libbase.so")
    base = _lib(tmp_path, "libbase.so")
    other = _lib(tmp_path, "libother.so")
    assert dependency_order([top, other, mid, base]) == (other, base, mid, top)


def test_a_cycle_keeps_the_given_order(tmp_path: Path) -> None:
    a = _lib(tmp_path, "liba.so", "libb.so")
    b = _lib(tmp_path, "libb.so", "liba.so")
    assert dependency_order([a, b]) == (a, b)

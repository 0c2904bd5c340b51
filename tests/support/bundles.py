"""Helpers for bundle tests: the installed CPU wheel, tree hashes and states, small real ELF
files."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ort_wrapper.bundle.patch import patchelf
from ort_wrapper.files import sha256_file

__all__ = ["age_tree", "cpu_package", "small_elf", "tree_hashes", "tree_state"]


def cpu_package() -> Path:
    """The installed ``onnxruntime`` package directory of the test environment."""
    spec = importlib.util.find_spec("onnxruntime")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("the onnxruntime wheel is not installed in the test environment")
    return Path(spec.submodule_search_locations[0])


def tree_hashes(root: Path) -> dict[str, str]:
    """sha256 of every regular file under ``root``, by relative path."""
    return {
        p.relative_to(root).as_posix(): sha256_file(p)
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink() and "__pycache__" not in p.parts
    }


def tree_state(root: Path) -> dict[str, tuple[str, str, int]]:
    """Everything a byte-for-byte comparison of two trees looks at, by relative path: a regular
    file's sha256, a symlink's target, a folder; and each one's permission bits."""
    state = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        if path.is_symlink():
            kind, what = "symlink", str(path.readlink())
        elif path.is_dir():
            kind, what = "folder", ""
        else:
            kind, what = "file", sha256_file(path)
        state[path.relative_to(root).as_posix()] = (kind, what, info.st_mode & 0o7777)
    return state


def small_elf(directory: Path, name: str, *, needed: tuple[str, ...] = ()) -> Path:
    """A real small shared library (a copy of the wheel's providers bridge) renamed to ``name``,
    with SONAME ``name`` and extra DT_NEEDED entries ``needed``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    shutil.copyfile(cpu_package() / "capi" / "libonnxruntime_providers_shared.so", path)
    path.chmod(0o755)
    subprocess.run([patchelf(), "--set-soname", name, str(path)], check=True)
    for soname in needed:
        subprocess.run([patchelf(), "--add-needed", soname, str(path)], check=True)
    return path


def age_tree(*roots: Path, days: int = 400) -> None:
    """Set the access and modification times of everything under ``roots`` ``days`` back: run
    between two builds of the same inputs instead of sleeping, so a date copied from an input
    (an ar member, a zip entry, a preserved mtime) would differ by far more than any format's
    resolution."""
    for root in roots:
        for path in [root, *root.rglob("*")]:
            if not path.is_symlink():
                info = path.stat()
                back = days * 86_400 * 10**9
                os.utime(path, ns=(info.st_atime_ns - back, info.st_mtime_ns - back))

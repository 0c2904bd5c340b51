"""finalize is reproducible: the same build tree, finalized twice (a second apart, into two
output folders of different names), gives the same distribution byte for byte: the same
paths, file contents, symlink targets and permissions (the merged archive, manifest.json,
pkg-config and CMake files included)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from conftest import FakeBuild

from ort_wrapper.finalize.stage import finalize
from ort_wrapper.matrix import load_matrix

from support.bundles import tree_state

CPU = load_matrix().variant("cpu")


def _twice(build: FakeBuild, tmp_path: Path, prune: bool) -> tuple[Path, Path]:
    first, second = tmp_path / "dist-one", tmp_path / "elsewhere" / "dist-two"
    second.parent.mkdir()
    finalize(build.prefix, build.build_dir, CPU, first, prune=prune)
    time.sleep(1.1)  # a timestamp with one-second resolution (ar, zip) would now differ
    finalize(build.prefix, build.build_dir, CPU, second, prune=prune)
    return first, second


@pytest.mark.parametrize("prune", [True, False])
def test_finalize_twice_gives_the_same_bytes(
    fake_build: FakeBuild, tmp_path: Path, prune: bool
) -> None:
    first, second = _twice(fake_build, tmp_path, prune)
    state = tree_state(first)
    assert "lib/libonnxruntime.a" in state and "share/ort-wrapper/manifest.json" in state
    assert tree_state(second) == state


def test_finalize_twice_gives_the_same_bytes_on_darwin(
    fake_macho_build: FakeBuild, tmp_path: Path
) -> None:
    """The Mach-O path merges with llvm-ar instead of GNU ar."""
    first, second = _twice(fake_macho_build, tmp_path, True)
    assert tree_state(second) == tree_state(first)

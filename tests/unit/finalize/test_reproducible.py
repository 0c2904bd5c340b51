"""finalize is reproducible: the same build tree, finalized twice (its files' dates changed in
between, into two output folders of different names), gives the same distribution byte for
byte, with no date from the clock in the merged archive's members: the same
paths, file contents, symlink targets and permissions (the merged archive, manifest.json,
pkg-config and CMake files included)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FakeBuild

from ort_wrapper.finalize.stage import finalize
from ort_wrapper.matrix import load_matrix

from support.bundles import age_tree, tree_state

CPU = load_matrix().variant("cpu")


def _twice(build: FakeBuild, tmp_path: Path, prune: bool) -> tuple[Path, Path]:
    first, second = tmp_path / "dist-one", tmp_path / "elsewhere" / "dist-two"
    second.parent.mkdir()
    finalize(build.prefix, build.build_dir, CPU, first, prune=prune)
    age_tree(build.prefix, build.build_dir)  # a date taken from an input would now differ
    finalize(build.prefix, build.build_dir, CPU, second, prune=prune)
    # none from the clock: 0 (GNU ar's deterministic mode), or llvm-ar's small counters that
    # tell apart members of the same name in a Darwin archive
    assert max(_member_dates(first / "lib/libonnxruntime.a")) < 1000
    return first, second


def _member_dates(archive: Path) -> list[int]:
    """The modification date in each member header of an ``ar`` archive."""
    data, at, dates = archive.read_bytes(), 8, []
    assert data[:8] == b"!<arch>\n"
    while at + 60 <= len(data):
        header = data[at : at + 60]
        dates.append(int(header[16:28].strip() or b"0"))
        at += 60 + int(header[48:58].strip())
        at += at % 2  # members are 2-byte aligned
    return dates


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

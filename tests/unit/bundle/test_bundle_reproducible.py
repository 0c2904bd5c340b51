"""bundle and wheel are reproducible: the same source, bundled (or wheeled) twice, its files'
dates changed in between, into two output folders of different names, gives the same bytes."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from ort_wrapper.bundle.wheel import make_wheel
from ort_wrapper.bundle.write import make_bundle
from ort_wrapper.errors import BundleError
from ort_wrapper.files import find_tool

from support.bundles import age_tree, small_elf, tree_state


@pytest.fixture
def source(tmp_path: Path) -> tuple[Path, Path]:
    """A distribution (a real shared library needing another) and the folder of its need."""
    small_elf(tmp_path / "src", "libgood.so.1", needed=("libdep.so.1",))
    small_elf(tmp_path / "deps", "libdep.so.1")
    return tmp_path / "src", tmp_path / "deps"


def test_bundle_twice_gives_the_same_bytes(source: tuple[Path, Path], tmp_path: Path) -> None:
    src, deps = source
    first, second = tmp_path / "bundle-one", tmp_path / "elsewhere" / "bundle-two"
    second.parent.mkdir()
    make_bundle(src, first, search_dirs=[deps], quiet=True)
    age_tree(src, deps)
    make_bundle(src, second, search_dirs=[deps], quiet=True)
    state = tree_state(first)
    assert state["lib/libdep.so.1"][0] == "file"  # the need was carried, RUNPATH patched
    assert tree_state(second) == state


def _has_auditwheel() -> bool:
    try:
        find_tool("auditwheel", error=BundleError)
    except BundleError:
        return False
    return True


@pytest.mark.skipif(not _has_auditwheel(), reason="needs auditwheel (pip install auditwheel)")
def test_wheel_twice_gives_the_same_bytes(source: tuple[Path, Path], tmp_path: Path) -> None:
    src, deps = source
    one = make_wheel(src, tmp_path / "wheels-one", search_dirs=[deps], quiet=True)
    age_tree(src, deps)  # and the clock: every entry's date is the fixed one (below)
    two = make_wheel(src, tmp_path / "elsewhere" / "wheels-two", search_dirs=[deps], quiet=True)
    assert one.path.name == two.path.name
    assert one.path.read_bytes() == two.path.read_bytes()
    with zipfile.ZipFile(one.path) as wheel:
        infos = wheel.infolist()
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert any(i.filename.startswith("ort_wrapper/_bundle/") for i in infos)

"""Output is atomic and inputs are never modified; verification catches a damaged bundle."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ort_wrapper.bundle import BUNDLE_JSON_RELPATH
from ort_wrapper.bundle.write import make_bundle, verify_bundle
from ort_wrapper.elf.reader import read_elf
from ort_wrapper.errors import BundleError

from support.bundles import small_elf, tree_hashes


def test_failed_rebundle_keeps_the_previous_bundle(tmp_path: Path) -> None:
    good = tmp_path / "good"
    small_elf(good, "libgood.so.1")
    out = tmp_path / "out"
    make_bundle(good, out, quiet=True)
    before = tree_hashes(out)
    bad = tmp_path / "bad"
    small_elf(bad, "libbad.so.1", needed=("libort_wrapper_absent.so.1",))
    with pytest.raises(BundleError, match=r"libort_wrapper_absent\.so\.1"):
        make_bundle(bad, out, quiet=True)
    assert tree_hashes(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad", "good", "out"]


def test_rebundle_replaces_and_inputs_stay_untouched(tmp_path: Path) -> None:
    src = tmp_path / "src"
    small_elf(src, "libgood.so.1")
    inputs = tree_hashes(src)
    out = tmp_path / "out"
    make_bundle(src, out, quiet=True)
    first = tree_hashes(out)
    make_bundle(src, out, quiet=True)
    assert tree_hashes(out) == first
    assert tree_hashes(src) == inputs
    assert read_elf(src / "libgood.so.1").runpath == ()  # only the copy was patched
    assert read_elf(out / "lib" / "libgood.so.1").runpath == ("$ORIGIN",)


def test_verify_reports_a_library_that_left_the_bundle(tmp_path: Path) -> None:
    src = tmp_path / "src"
    small_elf(src, "libgood.so.1", needed=("libdep.so.1",))
    small_elf(tmp_path / "deps", "libdep.so.1")
    out = tmp_path / "out"
    make_bundle(src, out, search_dirs=[tmp_path / "deps"], quiet=True)
    assert verify_bundle(out) == ()
    damaged = tmp_path / "damaged"
    shutil.copytree(out, damaged)
    (damaged / "lib" / "libdep.so.1").unlink()
    problems = {p.describe() for p in verify_bundle(damaged)}
    assert any(
        d.startswith("lib/libgood.so.1: libdep.so.1 (needed by libgood.so.1)") for d in problems
    ), problems


def test_bundle_json_says_why_each_file_is_there(tmp_path: Path) -> None:
    src = tmp_path / "src"
    small_elf(src, "libgood.so.1", needed=("libcuda.so.1",))
    out = tmp_path / "out"
    make_bundle(src, out, quiet=True)
    data = json.loads((out / BUNDLE_JSON_RELPATH).read_text())
    files = {f["path"]: f for f in data["files"]}
    assert "lib/libstdc++.so.6" not in files  # the C++ runtime stays on the host
    assert files["lib/libgood.so.1"]["from"] == str(src / "libgood.so.1")
    assert files["lib/libgood.so.1"]["runpath"] == "$ORIGIN"
    assert {h["soname"]: h["category"] for h in data["host"]}["libcuda.so.1"] == "driver"
    assert data["hostRequirements"]["GLIBC"].startswith("GLIBC_2.")


def _modes(root: Path) -> dict[str, int]:
    return {
        p.relative_to(root).as_posix(): p.stat().st_mode & 0o7777
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def test_fixed_modes_the_descriptions_included(tmp_path: Path) -> None:
    """0755 for ELF files, 0644 otherwise: manifest.json and bundle.json too (they are
    written through a temporary file, which mkstemp makes 0600), and again on a rebundle."""
    src = tmp_path / "src"
    small_elf(src, "libgood.so.1")
    out = tmp_path / "out"
    make_bundle(src, out, quiet=True)
    modes = _modes(out)
    assert modes["share/ort-wrapper/manifest.json"] == 0o644
    assert modes[BUNDLE_JSON_RELPATH] == 0o644
    assert modes["lib/libgood.so.1"] == 0o755
    assert set(modes.values()) <= {0o644, 0o755}
    make_bundle(src, out, quiet=True)
    assert _modes(out) == modes

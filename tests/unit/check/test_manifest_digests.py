"""The linking section compares every listed file with the manifest's sha256."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from unit.check.check_prefixes import static_prefix

from ort_wrapper.check.linking import linking_section
from ort_wrapper.runtime.distribution import locate

pytestmark = pytest.mark.skipif(
    shutil.which("cc") is None or shutil.which("strip") is None, reason="needs cc and strip"
)


def _digest_check(root: Path):
    section = linking_section(locate(root, strict=False))
    return next(c for c in section.checks if c.name == "manifest sha256")


def test_untouched_distribution_matches_its_manifest(tmp_path: Path) -> None:
    check = _digest_check(static_prefix(tmp_path / "dist"))
    assert check.status == "pass", check.detail
    assert check.detail.startswith("all ") and "present files match" in check.detail


def test_a_file_stripped_after_the_manifest_fails_naming_it(tmp_path: Path) -> None:
    """What nixpkgs' fixup phase does to lib/ (strip -S, then ranlib) after a manifest
    written in postInstall: the archive still links, but its bytes are not the recorded ones."""
    root = static_prefix(tmp_path / "dist")
    archive = root / "lib" / "libonnxruntime_session.a"
    before = archive.read_bytes()
    subprocess.run(["strip", "-S", "-p", str(archive)], check=True)
    subprocess.run(["ranlib", str(archive)], check=True)
    if archive.read_bytes() == before:  # nothing to strip: change it another way
        archive.write_bytes(before + b"\n")
    check = _digest_check(root)
    assert check.status == "fail"
    assert "lib/libonnxruntime_session.a" in check.detail
    assert check.data["changed"] == ["lib/libonnxruntime_session.a"]

"""``--runpath-prefix``: the GPU driver's directory in every bundled ELF file's RUNPATH, set by
the bundle step itself, so the manifest it writes matches the files (nothing edits them after,
as nixpkgs' addDriverRunpath did in the flake's bundle)."""

from __future__ import annotations

from pathlib import Path

from ort_wrapper.cli import main
from ort_wrapper.elf.reader import read_elf
from ort_wrapper.files import sha256_file
from ort_wrapper.manifest import load_manifest

from support.real_libraries import wheel_library_dir

DRIVER = "/run/opengl-driver/lib"


def test_every_elf_file_gets_the_prefix_first_and_the_manifest_matches(tmp_path: Path) -> None:
    src = wheel_library_dir(tmp_path / "libs")  # the wheel's C library and providers bridge
    out = tmp_path / "out"
    assert main(["bundle", str(src), "--out", str(out), "--runpath-prefix", DRIVER, "-q"]) == 0
    manifest = load_manifest(out)
    shared = [e for e in manifest.files if e.kind == "shared"]
    assert len(shared) >= 2
    for entry in shared:
        assert read_elf(out / entry.path).runpath == (DRIVER, "$ORIGIN")
    for entry in manifest.files:
        assert sha256_file(out / entry.path) == entry.sha256, entry.path

"""The ONNX Runtime derivation's install and fixup hooks, run for real on a miniature build.

The hooks are read from the evaluated derivation (stand-in nixpkgs) and run by the stand-in's
phases.sh, which does what nixpkgs' fixup phase does to such an output (strip.sh: `strip -S`
and ranlib under lib/; patchelf --shrink-rpath) between postInstall and postFixup, on the CMake
install in $out (the staging prefix), from which finalize then writes the new $out. A manifest
written before the fixup phase lists hashes the fixup phase then changes: `ort-wrapper check`
fails it, naming the files.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from unit.finalize.conftest import make_fake_build

from support.nix import STAND_IN, Nix

pytestmark = [
    pytest.mark.nix,
    pytest.mark.skipif(
        not all(shutil.which(t) for t in ("cc", "ar", "strip", "ranlib", "patchelf")),
        reason="needs cc and binutils",
    ),
]

BUILD_DIR = "build+tree"  # make_fake_build's name for the build tree (cmakeBuildDir)


@pytest.fixture(scope="module")
def cpu_env(nix: Nix) -> dict[str, str]:
    drv = nix.eval_json("packages.x86_64-linux.onnxruntime-cpu.drvPath")
    return nix.derivation(drv)["env"]


def _run_phases(tmp: Path, hooks: dict[str, str]) -> Path:
    """Build the miniature ORT under tmp, run the hooks over its install prefix ($out)."""
    top = tmp / "top"
    fake = make_fake_build(top / "source")
    env = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp),
        "TMPDIR": str(tmp),
        "out": str(fake.prefix),
        "NIX_BUILD_TOP": str(top),
        "sourceRoot": "source",
        "cmakeBuildDir": BUILD_DIR,
        **hooks,
    }
    done = subprocess.run(
        ["bash", str(STAND_IN / "phases.sh")],
        cwd=fake.build_dir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "stripping (with command strip" in done.stdout
    return fake.prefix


def _tool() -> str:
    return str(Path(sys.executable).parent / "ort-wrapper")


def _digest_check(dist: Path, tmp: Path) -> dict:
    report = tmp / "report.json"
    subprocess.run(
        [_tool(), "check", "--dist", str(dist), "--only", "linking", "--json", str(report)],
        capture_output=True,
        text=True,
        check=False,
    )
    sections = json.loads(report.read_text())["sections"]
    checks = next(s for s in sections if s["name"] == "linking")["checks"]
    return next(c for c in checks if c["name"] == "manifest sha256")


def test_the_derivation_records_hashes_after_the_fixup_phase(
    cpu_env: dict[str, str], tmp_path: Path
) -> None:
    hooks = {k: cpu_env[k] for k in ("postInstall", "postFixup") if k in cpu_env}
    dist = _run_phases(tmp_path, hooks)
    manifest = json.loads((dist / "share/ort-wrapper/manifest.json").read_text())
    assert any(f["path"] == "lib/libonnxruntime.a" for f in manifest["files"])
    # $out was the staging prefix: finalize wrote a new directory, which replaced it
    assert not list((dist / "lib").glob("libonnxruntime_*.a"))
    assert sorted(p.name for p in (tmp_path / "top").iterdir()) == ["source"]
    check = _digest_check(dist, tmp_path)
    assert check["status"] == "pass", check


def test_a_manifest_written_in_post_install_is_caught(
    cpu_env: dict[str, str], tmp_path: Path
) -> None:
    """The flake's finalize step moved back to postInstall (before the fixup phase): the
    stand-in's fixup phase strips the archives of the distribution it wrote, and the check
    names them."""
    dist = _run_phases(tmp_path, {"postInstall": cpu_env["postFixup"]})
    check = _digest_check(dist, tmp_path)
    assert check["status"] == "fail"
    assert "lib/libonnxruntime.a" in check["data"]["changed"]


def _fixup(tmp: Path, hooks: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """phases.sh on a small output ($out holding one ELF object under lib/), with patchelf and
    strip on PATH as wrappers that log each call before running the real tool."""
    out, store, tools = tmp / "store" / "out", tmp / "store", tmp / "tools"
    (out / "lib").mkdir(parents=True)
    subprocess.run(
        ["cc", "-shared", "-fPIC", "-o", str(out / "lib/libx.so"), "-x", "c", "-"],
        input="int x(void) { return 1; }\n",
        text=True,
        check=True,
    )
    tools.mkdir()
    for tool in ("patchelf", "strip"):
        real = shutil.which(tool)
        (tools / tool).write_text(f'#!/bin/sh\necho {tool} >> "$LOG"\nexec {real} "$@"\n')
        (tools / tool).chmod(0o755)
    env = {
        "PATH": f"{tools}{os.pathsep}{os.environ['PATH']}",
        "TMPDIR": str(tmp),
        "LOG": str(tmp / "log"),
        "out": str(out),
        "NIX_STORE": str(store),
        **hooks,
    }
    return subprocess.run(
        ["bash", str(STAND_IN / "phases.sh")],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_rpaths_are_shrunk_before_stripping_and_post_fixup_runs_last(tmp_path: Path) -> None:
    """nixpkgs' fixupOutputHooks: patchELF first, _doStrip last; then postFixup."""
    done = _fixup(tmp_path, {"postFixup": 'echo postFixup >> "$LOG"'})
    assert done.returncode == 0, done.stderr
    calls = (tmp_path / "log").read_text().split()
    assert calls == ["patchelf", "strip", "postFixup"]


def test_post_fixup_hooks_run_after_the_post_fixup_attribute(tmp_path: Path) -> None:
    """A dangling store symlink made in postInstall and removed by postFixup passes: nixpkgs'
    noBrokenSymlinksInAllOutputs runs after the attribute (runHook: attribute, then hooks)."""
    dangling = 'ln -s "$NIX_STORE/gone" "$out/lib/link"'
    done = _fixup(tmp_path, {"postInstall": dangling, "postFixup": 'rm "$out/lib/link"'})
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("post_fixup", "message"),
    [
        ('ln -s "$NIX_STORE/gone" "$out/lib/link"', "found 1 dangling symlinks"),
        ('ln -s link "$out/lib/link"', "found 0 dangling symlinks, 1 reflexive"),
        (
            'mkdir -p "$out/lib/pkgconfig"; echo "libdir=\\${prefix}//nix/store/x/lib" '
            '> "$out/lib/pkgconfig/x.pc"',
            "Broken paths found in a .pc file!",
        ),
    ],
)
def test_post_fixup_hooks_refuse_what_nixpkgs_refuses(
    tmp_path: Path, post_fixup: str, message: str
) -> None:
    done = _fixup(tmp_path, {"postFixup": post_fixup})
    assert done.returncode != 0
    assert message in done.stderr
    outside = _fixup(tmp_path / "again", {"postFixup": 'ln -s /no/such "$out/lib/link"'})
    assert outside.returncode == 0, outside.stderr  # outside the store: not checked

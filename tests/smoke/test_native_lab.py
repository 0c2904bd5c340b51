"""Smoke: the native build lab builds ORT cpu-static from the newest pinned Debian source in a
trixie chroot (cached by input), finalize makes it a distribution, and a C program linked
with ``ort-wrapper link-flags`` prints the version and runs a model.

A failure of the environment (mirror unreachable, debootstrap missing, a Debian package
broken) skips loudly with the reason; a failure of the project's own steps fails.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ort_wrapper.files import sha256_file
from ort_wrapper.lab.run import LabResult
from ort_wrapper.lab.source import known_source
from ort_wrapper.manifest import load_manifest
from ort_wrapper.matrix import api_version_for

import models
from helpers import LAB_VERSION as VERSION
from helpers import REPO

SMOKE_C = Path(__file__).with_name("native_lab_smoke.c")

pytestmark = pytest.mark.lab


def test_the_distribution(lab: LabResult) -> None:
    manifest = load_manifest(lab.dist)
    assert (manifest.version, manifest.variant, manifest.link_mode) == (VERSION, "cpu", "static")
    merged = lab.dist / "lib/libonnxruntime.a"
    entry = next(f for f in manifest.files if f.path == "lib/libonnxruntime.a")
    assert entry.sha256 == sha256_file(merged)
    assert not list((lab.dist / "lib").glob("libonnxruntime_*.a"))
    assert len(manifest.extra["mergedFrom"]) >= 9
    abseil = manifest.extra["abseil"]
    assert abseil["discovered"] >= 100  # trixie's libabsl-dev ships 104 static archives
    assert 0 < abseil["referenced"] < abseil["discovered"]
    assert manifest.extra["source"]["sha256"] == known_source(VERSION).sha256
    pc = (lab.dist / "lib/pkgconfig/libonnxruntime.pc").read_text()
    assert f"Version: {VERSION}" in pc and "Libs.private:" in pc
    print(
        f"\nlab result {lab.key} (cached: {lab.cached}): merged archive "
        f"{merged.stat().st_size / 2**20:.1f} MiB, abseil {abseil['referenced']} of "
        f"{abseil['discovered']} referenced, timings {json.dumps(lab.timings)}"
    )


def test_a_c_program_links_and_runs_a_model(lab: LabResult, tmp_path: Path) -> None:
    manifest = load_manifest(lab.dist)
    flags = subprocess.run(
        [
            sys.executable,
            "-m",
            "ort_wrapper.cli",
            "link-flags",
            str(lab.dist),
            "--format",
            "json",
            "--as-path",
            lab.dist_inside,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    work_inside = "/lab/smoke"
    work = lab.chroot.host_path(work_inside)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    shutil.copy2(SMOKE_C, work / "smoke.c")
    models.save(models.add_model(), work / "add.onnx")
    include = f"{lab.dist_inside}/{manifest.include_dir}"
    log = tmp_path / "smoke.log"
    lab.chroot.run(
        ["cc", f"-I{include}", "smoke.c", "-o", "smoke", *json.loads(flags.stdout)],
        cwd=work_inside,
        log_file=log,
    )
    lines: list[str] = []
    lab.chroot.run(["./smoke", "add.onnx"], cwd=work_inside, on_line=lines.append)
    out = [line.strip() for line in lines if line.startswith(("version=", "Z="))]
    print("\n" + "\n".join(out))
    assert out == [f"version={VERSION} api={api_version_for(VERSION)}", "Z=11,22,33,44,55,66"]


def test_check_passes_its_linking_section_in_the_chroot(lab: LabResult) -> None:
    """``ort-wrapper check --dist`` where the distribution's system libraries are: in the
    chroot, with this checkout's package and its pure-Python dependencies."""
    import auditwheel
    import elftools

    py_inside = "/lab/smoke-py"
    py = lab.chroot.host_path(py_inside)
    shutil.rmtree(py, ignore_errors=True)
    shutil.copytree(REPO / "python/ort_wrapper", py / "ort_wrapper")
    for module in (elftools, auditwheel):
        folder = Path(module.__file__).parent
        shutil.copytree(folder, py / folder.name)
    report = py / "report.json"
    lab.chroot.run(
        [
            "python3",
            "-m",
            "ort_wrapper.cli",
            "check",
            "--dist",
            lab.dist_inside,
            "--only",
            "linking",
            "--json",
            f"{py_inside}/report.json",
        ],
        env={"PYTHONPATH": py_inside},
    )
    [section] = json.loads(report.read_text())["sections"]
    capi = next(c for c in section["checks"] if c["name"] == "C API (static link)")
    print(f"\ncheck linking: {section['status']}: {capi['detail']}")
    assert section["status"] == "pass" and capi["status"] == "pass"


def test_every_patch_is_dry_run_against_the_lab_source(lab: LabResult, tmp_path: Path) -> None:
    report = tmp_path / "patches.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "ort_wrapper.cli",
            "build",
            "--check-patches",
            "--json",
            str(report),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    entries = json.loads(report.read_text())
    assert [e["patch"] for e in entries] == sorted(
        p.name for p in (REPO / "patches").glob("*.patch")
    )
    for entry in entries:
        assert entry["status"] in ("applies", "skipped-context-differs"), entry
        assert entry["source"] == VERSION
        assert bool(entry["reason"]) == (entry["status"] != "applies")

"""Smoke: the static path on the native build lab's real static prefix, when the lab has built one
(the synthetic static distribution is covered in tests/unit/check/test_check_static.py).

The lab's prefix lives in its chroot (``chroots/<suite>/lab/results/<variant>-<key>``) and its link
flags name that chroot's system libraries, so on a host whose libraries differ the link can fail
for reasons outside the distribution; the lab runs the same command inside the chroot."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ort_wrapper.build.cache import cache_root
from ort_wrapper.manifest import MANIFEST_RELPATH


def _lab_static_prefixes() -> list[Path]:
    lab = cache_root() / "lab"
    found = []
    for manifest in sorted(lab.glob(f"chroots/*/lab/results/*/{MANIFEST_RELPATH}")):
        try:
            if json.loads(manifest.read_text()).get("linkMode") == "static":
                found.append(manifest.parents[2])
        except (OSError, ValueError):
            continue
    return found


@pytest.mark.lab
@pytest.mark.skipif(shutil.which("cc") is None, reason="needs cc")
def test_lab_static_prefix_links_and_runs(tmp_path: Path) -> None:
    prefixes = _lab_static_prefixes()
    if not prefixes:
        pytest.skip(
            f"no static prefix built by the lab under {cache_root() / 'lab'} "
            "(run `ort-wrapper build`)"
        )
    report = tmp_path / "r.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ort_wrapper.cli",
            "check",
            "--dist",
            str(prefixes[-1]),
            "--only",
            "linking",
            "--json",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    checks = json.loads(report.read_text())["sections"][0]["checks"]
    capi = next(c for c in checks if c["name"] == "C API (static link)")
    assert capi["status"] == "pass" and capi["data"]["apiOk"]

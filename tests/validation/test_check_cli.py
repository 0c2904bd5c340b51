"""Validation: `ort-wrapper check` end to end on the PyPI wheel and on a prefix made from it:
all five sections, exit codes, the JSON report, a model that does not load."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from unit.check.check_prefixes import wheel_prefix

SECTIONS = ["linking", "providers", "quality", "determinism", "stability"]


def _check(*args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "ort_wrapper.cli", "check", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    return done, time.monotonic() - start


def test_whole_check_on_the_wheel(tmp_path: Path) -> None:
    done, seconds = _check("--json", str(tmp_path / "r.json"))
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["ok"] and [s["name"] for s in report["sections"]] == SECTIONS
    assert all(s["status"] == "pass" for s in report["sections"])
    assert seconds < 60, f"the whole check took {seconds:.1f} s (budget 60 s)"
    quality = report["sections"][2]
    assert quality["seconds"] < 15, f"the quality section took {quality['seconds']} s (budget 15 s)"
    conformance = next(
        c for c in quality["checks"] if c["name"] == "conformance on CPUExecutionProvider"
    )
    counts = conformance["data"]["counts"]
    assert sum(counts.values()) == conformance["data"]["cases"] == 1590
    assert conformance["data"]["regressions"] == {}
    stability = report["sections"][4]["checks"]
    assert all(c["data"]["runs"] == 1000 and c["data"]["rssGrowth"] < 0.05 for c in stability)
    for section in SECTIONS:  # the text report has the same sections
        assert f"== {section}: PASS" in done.stdout
    assert "conformance on CPUExecutionProvider" in done.stderr  # progress


def test_a_model_that_does_not_load_is_a_failed_check(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    done, _ = _check(
        "--only",
        "determinism,stability",
        "--model",
        str(bad),
        "--runs",
        "50",
        "--json",
        str(tmp_path / "r.json"),
        "--quiet",
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    for section in report["sections"]:
        failed = [c for c in section["checks"] if c["status"] == "fail"]
        assert (
            len(failed) == 1
            and str(bad) in failed[0]["name"]
            and "cannot load" in failed[0]["detail"]
        )


def test_user_model_runs_in_determinism_and_stability(tmp_path: Path, mlp_model_path: Path) -> None:
    done, _ = _check(
        "--only",
        "determinism,stability",
        "--model",
        str(mlp_model_path),
        "--runs",
        "100",
        "--json",
        str(tmp_path / "r.json"),
        "--quiet",
    )
    assert done.returncode == 0, done.stdout
    names = [
        c["name"]
        for s in json.loads((tmp_path / "r.json").read_text())["sections"]
        for c in s["checks"]
    ]
    assert f"{mlp_model_path}: two sessions" in names
    assert f"{mlp_model_path}: 100 runs on CPUExecutionProvider" in names


@pytest.fixture(scope="module")
def prefix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return wheel_prefix(tmp_path_factory.mktemp("wheel") / "dist")


def test_whole_check_on_a_prefix_runs_in_a_worker(prefix: Path, tmp_path: Path) -> None:
    done, _ = _check(
        "--dist", str(prefix), "--runs", "100", "--json", str(tmp_path / "r.json"), "--quiet"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert (
        report["distribution"]["kind"] == "prefix" and report["distribution"]["version"] == "1.23.2"
    )
    providers = {c["name"]: c["data"] for c in report["sections"][1]["checks"]}
    assert (
        providers["CPUExecutionProvider"]["claimed"] and providers["CPUExecutionProvider"]["usable"]
    )


def test_a_claimed_provider_that_is_not_compiled_in_fails(prefix: Path, tmp_path: Path) -> None:
    data = json.loads((prefix / "share/ort-wrapper/manifest.json").read_text())
    data["providers"] = [*data["providers"], "CUDAExecutionProvider"]
    lying = tmp_path / "dist"
    import shutil

    shutil.copytree(prefix, lying, symlinks=True)
    (lying / "share/ort-wrapper/manifest.json").write_text(json.dumps(data))
    done, _ = _check("--dist", str(lying), "--only", "providers", "--quiet")
    assert done.returncode == 1
    assert "CUDAExecutionProvider is not compiled into this ONNX Runtime" in done.stdout

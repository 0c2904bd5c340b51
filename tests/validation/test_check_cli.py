"""Validation: `ort-wrapper check` end to end on the PyPI wheel and on a prefix made from it:
all five sections, exit codes, the JSON report, a model that does not load. The command runs
in this process (``run_cli``): the sessions run in check's worker child, and that boundary
(a crash, a timeout) is what the worker tests here are about."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from support.prefixes import make_prefix

SECTIONS = ["linking", "providers", "quality", "determinism", "stability"]


@pytest.fixture
def check(run_cli):
    """``check(*args)``: ``ort-wrapper check ARGS`` in this process (its sections run in the
    worker child, the boundary these tests are about), and how long it took."""

    def run(*args: str) -> tuple[subprocess.CompletedProcess[str], float]:
        start = time.monotonic()
        done = run_cli("check", *args)
        return done, time.monotonic() - start

    return run


def test_whole_check_on_the_wheel(check, tmp_path: Path) -> None:
    # The 60 s / 15 s budgets are measured by benchmarks/harness.py, not asserted here.
    done, _ = check("--json", str(tmp_path / "r.json"))
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["ok"] and [s["name"] for s in report["sections"]] == SECTIONS
    assert all(s["status"] == "pass" for s in report["sections"])
    quality = report["sections"][2]
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


def test_a_model_that_does_not_load_is_a_failed_check(check, tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    done, _ = check(
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


def test_user_model_runs_in_determinism_and_stability(
    check, tmp_path: Path, mlp_model_path: Path
) -> None:
    done, _ = check(
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
    return make_prefix(tmp_path_factory.mktemp("wheel") / "dist", wheel="lib")


def test_whole_check_on_a_prefix_runs_in_a_worker(check, prefix: Path, tmp_path: Path) -> None:
    done, _ = check(
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


def test_a_claimed_provider_that_is_not_compiled_in_fails(
    check, prefix: Path, tmp_path: Path
) -> None:
    data = json.loads((prefix / "share/ort-wrapper/manifest.json").read_text())
    data["providers"] = [*data["providers"], "CUDAExecutionProvider"]
    lying = tmp_path / "dist"
    import shutil

    shutil.copytree(prefix, lying, symlinks=True)
    (lying / "share/ort-wrapper/manifest.json").write_text(json.dumps(data))
    done, _ = check("--dist", str(lying), "--only", "providers", "--quiet")
    assert done.returncode == 1
    assert "CUDAExecutionProvider is not compiled into this ONNX Runtime" in done.stdout


def test_an_unwritable_json_path_is_refused_before_the_run(tmp_path: Path, run_cli) -> None:
    (tmp_path / "file").write_text("x")
    done = run_cli("check", "--json", str(tmp_path / "file" / "r.json"), "--quiet")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().startswith("ort-wrapper check: cannot write")
    assert "== linking" not in done.stdout  # nothing ran


def test_a_section_named_twice_runs_once(tmp_path: Path, run_cli) -> None:
    done = run_cli(
        "check", "--only", "linking,linking", "--json", str(tmp_path / "r.json"), "--quiet"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert [s["name"] for s in report["sections"]] == ["linking"]
    assert done.stdout.count("== linking") == 1


def test_a_baseline_missing_a_known_failure_fails_quality(check, tmp_path: Path) -> None:
    from ort_wrapper.check.baselines import BASELINE_DIR

    committed = BASELINE_DIR / "ort-1.23.2-onnx-1.18.0-CPUExecutionProvider.json"
    data = json.loads(committed.read_text())
    dropped = sorted(data["known"])[0]
    del data["known"][dropped]
    (tmp_path / committed.name).write_text(json.dumps(data))
    done, _ = check(
        "--only", "quality", "--baseline-dir", str(tmp_path), "--json", str(tmp_path / "r.json"),
        "--quiet",
    )  # fmt: skip
    assert done.returncode == 1
    quality = json.loads((tmp_path / "r.json").read_text())["sections"][0]
    conformance = next(c for c in quality["checks"] if c["name"].startswith("conformance on CPU"))
    assert conformance["status"] == "fail" and dropped in conformance["data"]["regressions"]


def test_a_corrupt_baseline_fails_quality_before_any_case_runs(check, tmp_path: Path) -> None:
    (tmp_path / "ort-1.23.2-onnx-1.18.0-CPUExecutionProvider.json").write_text("{oops")
    done, _ = check("--only", "quality", "--baseline-dir", str(tmp_path))
    assert done.returncode == 1 and "is unreadable" in done.stdout
    assert "no case was run" in done.stdout
    assert "conformance on CPUExecutionProvider" not in done.stderr  # no progress: no case ran


def test_a_worker_that_segfaults_fails_its_sections(check, prefix: Path, tmp_path: Path) -> None:
    import shutil

    crashing = tmp_path / "dist"
    shutil.copytree(prefix, crashing, symlinks=True)
    init = crashing / "python/onnxruntime/__init__.py"
    init.write_text('__version__ = "1.23.2"\nimport ctypes\nctypes.string_at(0)\n')
    done, _ = check(
        "--dist", str(crashing), "--only", "linking,providers,determinism",
        "--json", str(tmp_path / "r.json"), "--quiet",
    )  # fmt: skip
    assert done.returncode == 1 and "Traceback" not in done.stderr.split("Fatal Python error")[0]
    report = json.loads((tmp_path / "r.json").read_text())
    status = {s["name"]: s for s in report["sections"]}
    assert status["linking"]["status"] == "pass"  # the parent's own section survives
    for name in ("providers", "determinism"):
        assert status[name]["status"] == "fail"
        assert "killed by signal 11" in status[name]["checks"][0]["detail"]


def test_a_worker_past_its_timeout_keeps_what_it_finished(check, tmp_path: Path) -> None:
    done, seconds = check(
        "--only", "providers,stability", "--runs", "100000000", "--timeout", "6",
        "--json", str(tmp_path / "r.json"), "--quiet",
    )  # fmt: skip
    assert done.returncode == 1 and seconds < 30
    report = json.loads((tmp_path / "r.json").read_text())
    providers, stability = report["sections"]
    assert providers["name"] == "providers" and providers["status"] == "pass"  # written in time
    assert stability["status"] == "fail"
    assert "did not finish within 6 s" in stability["checks"][0]["detail"]


def test_a_static_distribution_is_linked_and_its_sessions_run_in_the_worker(
    check, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No section is skipped for a static distribution: its archives are linked into a shared
    object with its own link flags and the session sections drive it through the C API. This
    one is a fake whose OrtApi table is not ORT's: the worker dies on it, and every session
    section fails saying so while linking (the link included) passes."""
    from unit.check.check_prefixes import static_prefix

    monkeypatch.setenv("ORT_BUILDER_CACHE", str(tmp_path / "cache"))
    root = static_prefix(tmp_path / "static", version="1.23.2", api=23)
    done, _ = check("--dist", str(root), "--json", str(tmp_path / "r.json"), "--quiet")
    report = json.loads((tmp_path / "r.json").read_text())
    status = {s["name"]: s for s in report["sections"]}
    assert status["linking"]["status"] == "pass", done.stdout
    linked = [c for c in status["linking"]["checks"] if c["name"].startswith("shared object")]
    assert linked and linked[0]["status"] == "pass"
    for name in SECTIONS[1:]:
        assert status[name]["status"] == "fail"
        assert "killed by signal" in status[name]["checks"][0]["detail"]
    assert done.returncode == 1 and report["distribution"]["kind"] == "static"

"""``ort-wrapper doctor`` end to end in the repository venv (the CPU wheel, onnxruntime 1.23.2
alone): all clear, JSON to stdout or a file, and the findings for what users get wrong with
the distribution variables."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from ort_wrapper.matrix import load_matrix

from helpers import CLI, cli, python_env
from support.reports import checks, data

REPO = Path(__file__).resolve().parents[2]


def doctor(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``ort-wrapper doctor`` in a child (doctor reports what its own process has loaded:
    none of the runtimes this test process holds) with LD_LIBRARY_PATH and the ORT variables
    unset (as ``print_debug_info()`` cannot cope with), plus ``env``."""
    return cli("doctor", *args, env=python_env(**{"LD_LIBRARY_PATH": None, **env}), cwd=REPO)


@pytest.fixture(scope="module")
def cpu_report() -> dict:
    proc = doctor("--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def test_the_cpu_wheel_alone_is_all_clear(cpu_report):
    assert cpu_report["ok"] is True
    assert cpu_report["summary"]["fail"] == 0 and cpu_report["summary"]["warn"] == 0
    codes = {f["name"] for f in checks(cpu_report)}
    assert {"dist.selected", "core.closure", "provider.builtin", "host.glibc"} <= codes
    assert "dist.conflict" not in codes and "provider.unusable" not in codes


def test_it_names_the_distribution_init_would_use_without_importing_it(cpu_report):
    dists = data(cpu_report, "distributions")
    expected = load_matrix().ort_version
    assert [(d["name"], d["version"]) for d in dists["installed"]] == [("onnxruntime", expected)]
    selected = dists["selected"]
    assert selected["origin"] == "installed module" and selected["version"] == expected
    assert selected["owners"] == ["onnxruntime"] and selected["packageOnDisk"] == "onnxruntime"
    providers = data(cpu_report, "providers")
    assert providers["learntFrom"] == "child process"
    assert "CPUExecutionProvider" in providers["compiledIn"]
    assert data(cpu_report, "process")["loaded"] == []  # doctor itself never loads a runtime


def test_it_reports_the_host_versions_against_the_wheel(cpu_report):
    versions = {v["family"]: v for v in data(cpu_report, "host")["versions"]}
    assert versions["GLIBC"]["required"] == "GLIBC_2.27" and versions["GLIBC"]["ok"]
    assert versions["GLIBCXX"]["required"] == "GLIBCXX_3.4.22"
    assert "libonnxruntime.so.1.23.2" in versions["GLIBC"]["requiredBy"]
    assert data(cpu_report, "host")["ldLibraryPath"] is None


def test_the_table_and_a_json_file(tmp_path):
    out = tmp_path / "doctor.json"
    proc = doctor("--json", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "PASSED: " in proc.stdout and " 0 failed, 0 warned" in proc.stdout
    assert "init() would use" in proc.stdout and "CPUExecutionProvider" in proc.stdout
    assert json.loads(out.read_text())["ok"] is True


def test_an_unwritable_json_file_is_a_usage_error(tmp_path, run_cli):
    (tmp_path / "file").write_text("")
    proc = run_cli("doctor", "--json", str(tmp_path / "file" / "x.json"))  # refused before it runs
    assert proc.returncode == 2
    assert "cannot write" in proc.stderr and "Traceback" not in proc.stderr


def test_a_bad_variable_is_an_error_finding_that_names_it(tmp_path):
    proc = doctor("--json", ORT_WRAPPER_DIST=str(tmp_path / "missing"))
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    (unusable,) = [f for f in checks(report) if f["name"] == "dist.unusable"]
    assert unusable["status"] == "fail"
    assert f"ORT_WRAPPER_DIST={tmp_path / 'missing'}: no such directory" in unusable["detail"]
    assert unusable["fix"].startswith("fix ORT_WRAPPER_DIST")
    assert "Traceback" not in proc.stderr


def test_a_missing_dist_argument_is_an_error_finding(tmp_path):
    proc = doctor("--dist", str(tmp_path))
    assert proc.returncode == 1
    assert "is not a distribution" in proc.stdout and "fix --dist" in proc.stdout


def test_another_ort_version_than_the_matrix_pins_is_information(tmp_path):
    """The one version policy (runtime.diagnose.version_check): another release than the
    pin says what differs (the C API level) and how to get the pinned one, and fails nothing."""
    matrix = json.loads(load_matrix().path.read_text())
    matrix["ort"]["version"] = "1.22.0"
    pinned = tmp_path / "variants.json"
    pinned.write_text(json.dumps(matrix))
    proc = doctor("--json", ORT_WRAPPER_VARIANTS=str(pinned))
    assert proc.returncode == 0, proc.stdout
    report = json.loads(proc.stdout)
    (version,) = [f for f in checks(report) if f["name"] == "dist.version"]
    assert version["status"] == "info" and "builds and tests 1.22.0 (C API 22)" in version["detail"]
    assert "(C API 23)" in version["detail"]
    assert version["fix"] == "pip install onnxruntime==1.22.0"


def test_usage_errors_exit_2(run_cli):
    proc = run_cli("doctor", "--no-such-option")
    assert proc.returncode == 2 and "usage:" in proc.stderr


def test_a_static_c_distribution_says_what_applies(tmp_path):
    from unit.check.check_prefixes import static_prefix

    root = static_prefix(tmp_path / "static", version=load_matrix().ort_version, api=23)
    proc = doctor("--dist", str(root), "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    codes = {f["name"]: f for f in checks(report)}
    assert "dist.unusable" not in codes and codes["dist.static"]["status"] == "pass"
    assert f"ort-wrapper link-flags {root}`" in codes["dist.static"]["fix"]
    assert "check --dist" in codes["dist.static"]["fix"]
    assert not any(code.startswith("provider.") for code in codes)


def test_a_manifest_claiming_a_provider_the_runtime_lacks_is_an_error(tmp_path):
    from support.prefixes import make_prefix

    root = make_prefix(tmp_path / "dist", wheel="lib")
    path = root / "share/ort-wrapper/manifest.json"
    written = json.loads(path.read_text())
    written["providers"] = [*written["providers"], "CUDAExecutionProvider"]
    path.write_text(json.dumps(written))
    proc = doctor("--dist", str(root), "--json")
    report = json.loads(proc.stdout)
    manifest = [f for f in checks(report) if f["name"] == "provider.manifest"]
    assert proc.returncode == 1 and manifest[0]["status"] == "fail"
    assert "CUDAExecutionProvider" in manifest[0]["detail"]
    assert data(report, "providers")["learntFrom"] == "child process"
    assert "CUDAExecutionProvider" not in data(report, "providers")["compiledIn"]


def test_json_into_a_closed_pipe_is_not_a_traceback():
    env = python_env(LD_LIBRARY_PATH=None)
    proc = subprocess.Popen(
        [*CLI, "doctor", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the report is written (`| head`)
    stderr = proc.stderr.read()
    proc.wait(timeout=300)
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr


def test_the_variables_of_ort_wrapper_env_name_one_distribution(wheel_prefix: Path) -> None:
    """ORT_WRAPPER_DIST (the root) and ORT_LIB_LOCATION (its library folder, as the ``ort``
    crate reads it), as ``ort-wrapper env`` sets them: one distribution, no warning. Control:
    ORT_LIB_LOCATION at another distribution is shadowed, and doctor warns."""
    (wheel_prefix / "lib").mkdir()
    env = {"ORT_WRAPPER_DIST": str(wheel_prefix), "ORT_LIB_LOCATION": str(wheel_prefix / "lib")}
    report = json.loads(doctor("--json", **env).stdout)
    found = [f for f in checks(report) if f["name"] == "dist.env"]
    assert [f["status"] for f in found] == ["pass", "pass"], found
    assert "names the same distribution as ORT_WRAPPER_DIST" in str(found[1])
    other = wheel_prefix.parent / "elsewhere"
    other.mkdir()
    report = json.loads(doctor("--json", **{**env, "ORT_LIB_LOCATION": str(other)}).stdout)
    found = [f for f in checks(report) if f["name"] == "dist.env"]
    assert [f["status"] for f in found] == ["pass", "warn"], found

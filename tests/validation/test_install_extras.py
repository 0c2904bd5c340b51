"""ort-wrapper installs beside any ONNX Runtime wheel: fresh venvs where only
``pip install 'ort-wrapper[gpu]'`` or plain ``pip install ort-wrapper`` ran (slow tier: the
onnxruntime-gpu wheel, about 300 MB, is downloaded once; tests/support/cuda_envs.py).

With the GPU wheel alone, pip and doctor find nothing to complain about but what is really
missing (CUDA 12's libraries, diagnosed as for the GPU wheel anywhere); two wheels remain a
conflict (tests/validation/test_doctor_cuda.py); with no wheel, init() says how to get one.
"""

from __future__ import annotations

import json

import pytest

from support.cuda_envs import run_python, wrapper_venv
from support.reports import checks, data

pytestmark = pytest.mark.slow

_CLEAN = {"ORT_WRAPPER_DIST": None, "ORT_LIB_LOCATION": None, "LD_LIBRARY_PATH": None}


def _pip(python, *args: str) -> str:
    """pip of the venv as it is (without the checkout on PYTHONPATH, whose editable install's
    metadata pip would read too)."""
    env = {**_CLEAN, "PYTHONPATH": None}
    done = run_python(python, ["-m", "pip", *args, "--disable-pip-version-check"], env)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _onnxruntime_wheels(python) -> list[str]:
    listed = json.loads(_pip(python, "list", "--format", "json"))
    return sorted(p["name"] for p in listed if p["name"].startswith("onnxruntime"))


def test_the_gpu_extra_installs_the_gpu_wheel_alone_without_a_conflict() -> None:
    python = wrapper_venv("gpu")
    assert _onnxruntime_wheels(python) == ["onnxruntime-gpu"]
    assert "No broken requirements found." in _pip(python, "check")
    proc = run_python(python, ["-m", "ort_wrapper.cli", "doctor", "--json"], _CLEAN)
    assert "Traceback" not in proc.stderr, proc.stderr
    report = json.loads(proc.stdout)
    codes = {f["name"] for f in checks(report)}
    assert "dist.conflict" not in codes
    assert [d["name"] for d in data(report, "distributions")["installed"]] == ["onnxruntime-gpu"]
    assert data(report, "distributions")["selected"]["packageOnDisk"] == "onnxruntime-gpu"
    # CUDA 12's libraries are what is really missing here, named as for the GPU wheel anywhere
    (cuda,) = [
        p for p in data(report, "providers")["providers"] if p["name"] == "CUDAExecutionProvider"
    ]
    missing = {m["soname"] for m in cuda["missing"]}
    assert {"libcublasLt.so.12", "libcudart.so.12", "libcudnn.so.9"} <= missing
    unusable = [f for f in checks(report) if f["name"] == "provider.unusable"]
    assert any("CUDAExecutionProvider" in f["detail"] for f in unusable)


def test_plain_ort_wrapper_installs_no_wheel_and_init_says_how_to_get_one() -> None:
    python = wrapper_venv(None)
    assert _onnxruntime_wheels(python) == []
    assert "No broken requirements found." in _pip(python, "check")
    code = (
        "import ort_wrapper\n"
        "try:\n    ort_wrapper.init()\n"
        "except ort_wrapper.InitError as exc:\n    print(exc)\n"
    )
    proc = run_python(python, code, _CLEAN)
    assert proc.returncode == 0, proc.stderr
    said = proc.stdout
    assert said.startswith("no ONNX Runtime found"), said
    assert "pip install 'ort-wrapper[cpu]'" in said and "'ort-wrapper[gpu]'" in said


def test_a_bundle_that_left_providers_out_on_purpose_reads_as_such(tmp_path) -> None:
    """`bundle --provider cpu` of the GPU wheel leaves CUDA and TensorRT out (bundle.json's
    leftOut); doctor --dist says so in ok lines instead of reporting them broken."""
    python = wrapper_venv("gpu")
    where = run_python(
        python, "import importlib.util as u; print(u.find_spec('onnxruntime').origin)", _CLEAN
    )
    assert where.returncode == 0, where.stderr
    package = where.stdout.strip().rsplit("/", 1)[0]
    out = tmp_path / "cpu-only"
    made = run_python(
        python,
        ["-m", "ort_wrapper.cli", "bundle", package, "--out", str(out), "--provider", "cpu"],
        _CLEAN,
    )
    assert made.returncode == 0, made.stderr
    proc = run_python(
        python, ["-m", "ort_wrapper.cli", "doctor", "--dist", str(out), "--json"], _CLEAN
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    report = json.loads(proc.stdout)
    by_code: dict[str, list[dict]] = {}
    for finding in checks(report):
        by_code.setdefault(finding["name"], []).append(finding)
    left_out = sorted(f["detail"].split(":")[0] for f in by_code["provider.left-out"])
    assert left_out == ["CUDAExecutionProvider", "TensorrtExecutionProvider"]
    assert all(f["status"] == "pass" for f in by_code["provider.left-out"])
    assert "provider.unusable" not in by_code
    assert [f["status"] for f in by_code["provider.manifest"]] == ["pass"]

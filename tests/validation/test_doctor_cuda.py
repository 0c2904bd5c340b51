"""``ort-wrapper doctor`` against the real onnxruntime-gpu 1.23.2 wheel (slow tier: the wheel and
the nvidia-* CUDA wheels are downloaded once, see tests/support/cuda_envs.py).

On a host without CUDA 12 libraries the wheel still lists CUDAExecutionProvider as available and
a session silently runs on CPU; doctor must say why, naming each missing soname and the
package that provides it."""

from __future__ import annotations

import json
import os

import pytest

from ort_wrapper.runtime.gpu import nvidia_driver

from support.cuda_envs import REPO, both_venv, gpu_venv, nvidia_libs, run_python
from support.reports import checks, data

pytestmark = pytest.mark.slow

# What libonnxruntime_providers_cuda.so (1.23.2) needs beyond glibc/libstdc++, and the
# PyPI package of each (docs/doctor.md, FACTS.md).
CUDA_NEEDS = {
    "libcublasLt.so.12": "nvidia-cublas-cu12>=12,<13",
    "libcublas.so.12": "nvidia-cublas-cu12>=12,<13",
    "libcurand.so.10": "nvidia-curand-cu12>=10,<11",
    "libcufft.so.11": "nvidia-cufft-cu12>=11,<12",
    "libcudart.so.12": "nvidia-cuda-runtime-cu12>=12,<13",
    "libcudnn.so.9": "nvidia-cudnn-cu12>=9,<10",
}
_CLEAN = {"ORT_WRAPPER_DIST": None, "ORT_LIB_LOCATION": None, "LD_LIBRARY_PATH": None}


def doctor_json(python, *args: str, **env) -> tuple[int, dict]:
    command = ["-m", "ort_wrapper.cli", "doctor", "--json", *args]
    proc = run_python(python, command, {**_CLEAN, **env})
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def by_code(report: dict, code: str) -> list[dict]:
    return [f for f in checks(report) if f["name"] == code]


def provider(report: dict, name: str) -> dict:
    (status,) = [p for p in data(report, "providers")["providers"] if p["name"] == name]
    return status


@pytest.fixture(scope="module")
def gpu_report() -> tuple[int, dict]:
    return doctor_json(gpu_venv())


def test_the_gpu_wheel_without_cuda_12_reports_the_cuda_provider_unusable(gpu_report):
    code, report = gpu_report
    assert code == 1
    assert data(report, "distributions")["selected"]["packageOnDisk"] == "onnxruntime-gpu"
    assert "CUDAExecutionProvider" in data(report, "providers")["compiledIn"]
    cuda = provider(report, "CUDAExecutionProvider")
    assert not cuda["loadable"]
    assert cuda["library"].endswith("onnxruntime/capi/libonnxruntime_providers_cuda.so")
    missing = {m["soname"]: m["pypi"] for m in cuda["missing"]}
    assert missing == CUDA_NEEDS
    for entry in cuda["missing"]:
        assert entry["neededBy"] == ["libonnxruntime_providers_cuda.so"]
        assert "nix build .#onnxruntime-cuda-dyn (bundles it)" in entry["hints"]
    closure = {c["soname"]: c for c in cuda["closure"]}
    assert closure["libcublasLt.so.12"]["path"] is None
    assert closure["libc.so.6"]["from"].endswith("(host glibc)")
    (finding,) = [f for f in by_code(report, "provider.unusable") if "CUDAExecution" in f["detail"]]
    assert finding["status"] == "fail"
    assert "missing libcublasLt.so.12, libcublas.so.12" in finding["detail"]
    assert finding["fix"].startswith("pip install 'nvidia-cublas-cu12>=12,<13'")
    assert all(f"'{req}'" in finding["fix"] for req in CUDA_NEEDS.values())


def test_the_gpu_wheel_report_says_whether_there_is_a_driver(gpu_report):
    _, report = gpu_report
    driver = nvidia_driver()
    (finding,) = by_code(report, "host.driver")
    assert data(report, "host")["driver"]["found"] == driver.found
    if not driver.found:  # this project's CI hosts: no NVIDIA driver
        assert finding["status"] == "fail"
        assert finding["detail"].startswith("no NVIDIA driver: libcuda.so.1 cannot be loaded")
        assert "needed by TensorrtExecutionProvider, CUDAExecutionProvider" in finding["detail"]
        cuda = provider(report, "CUDAExecutionProvider")
        assert cuda["deviceProblem"].startswith("no NVIDIA driver")


def test_the_gpu_wheel_report_compares_cuda_runtimes_with_what_it_was_built_for(gpu_report):
    _, report = gpu_report
    runtime = [c for c in data(report, "host")["cuda"] if c["component"] == "CUDA runtime"]
    assert runtime[0]["needs"] == "libcudart.so.12"
    (finding,) = [f for f in by_code(report, "host.cuda-runtime") if "CUDA runtime" in f["detail"]]
    assert "(this package was built with CUDA 12.2)" in finding["detail"]
    found12 = [f for f in runtime[0]["found"] if f["soname"] == "libcudart.so.12"]
    assert finding["status"] == ("pass" if found12 else "warn")


def test_both_wheels_installed_is_a_conflict():
    code, report = doctor_json(both_venv())
    assert code == 1
    names = sorted(d["name"] for d in data(report, "distributions")["installed"])
    assert names == ["onnxruntime", "onnxruntime-gpu"]
    (conflict,) = by_code(report, "dist.conflict")
    assert conflict["status"] == "fail"
    assert (
        "onnxruntime 1.23.2" in conflict["detail"]
        and "onnxruntime-gpu 1.23.2" in conflict["detail"]
    )
    assert "own the same" in conflict["detail"] and "onnxruntime/__init__.py" in conflict["detail"]
    assert conflict["fix"].startswith("pip uninstall -y ")
    assert "&& pip install onnxruntime-gpu==1.23.2 (" in conflict["fix"]  # the specialised one
    on_disk = data(report, "distributions")["selected"]["packageOnDisk"]
    assert f"on disk: {on_disk} " in conflict["detail"]
    assert f"import onnxruntime gets {on_disk}'s build" in conflict["detail"]
    assert sorted(data(report, "distributions")["selected"]["owners"]) == names


def test_with_the_nvidia_wheels_on_the_library_path_only_the_driver_can_be_missing():
    libs = nvidia_libs()
    dirs = sorted(str(p) for p in (libs / "nvidia").glob("*/lib"))
    code, report = doctor_json(gpu_venv(), LD_LIBRARY_PATH=os.pathsep.join(dirs))
    cuda = provider(report, "CUDAExecutionProvider")
    assert cuda["missing"] == []
    closure = {c["soname"]: c for c in cuda["closure"]}
    for soname in CUDA_NEEDS:
        assert closure[soname]["from"] == "LD_LIBRARY_PATH"
        assert closure[soname]["path"].startswith(str(libs / "nvidia"))
    runtime = [f for f in by_code(report, "host.cuda-runtime") if "CUDA runtime" in f["detail"]]
    assert runtime[0]["status"] == "pass" and "libcudart.so.12 (12." in runtime[0]["detail"]
    driver = nvidia_driver()
    assert cuda["loadable"] == (driver.found and driver.error is None)
    assert code == (0 if report["ok"] else 1) == (1 if report["summary"]["fail"] else 0)


def test_nvidia_wheels_on_sys_path_but_not_preloaded_are_named():
    libs = nvidia_libs()
    repo_python = str(REPO / "python")
    _, report = doctor_json(gpu_venv(), PYTHONPATH=os.pathsep.join([str(libs), repo_python]))
    cuda = provider(report, "CUDAExecutionProvider")
    assert cuda["missing"] == []
    closure = {c["soname"]: c for c in cuda["closure"]}
    assert closure["libcudnn.so.9"]["from"] == "nvidia-cudnn-cu12 wheel (not on the loader's path)"
    finding = next(
        f for f in checks(report)
        if f["name"] in ("provider.unusable", "provider.needs-preload")
        and f["detail"].startswith("CUDAExecutionProvider")
    )  # fmt: skip
    assert "libcublasLt.so.12" in finding["detail"] and "nvidia-* wheels" in finding["detail"]
    if finding["name"] == "provider.needs-preload":
        assert "onnxruntime.preload_dlls()" in finding["fix"]


def test_a_cpu_bundle_of_the_gpu_wheel_needs_no_driver_and_no_cuda(tmp_path):
    """`bundle --provider cpu` of the GPU wheel leaves CUDA and TensorRT out on purpose
    (bundle.json's leftOut): doctor asks no driver, CUDA runtime or cuDNN for them and exits
    0 on a host without any of those."""
    python = gpu_venv()
    where = run_python(
        python, "import importlib.util as u; print(u.find_spec('onnxruntime').origin)", _CLEAN
    )
    assert where.returncode == 0, where.stderr
    package = where.stdout.strip().rsplit("/", 1)[0]
    out = tmp_path / "cpu-only"
    bundle = ["-m", "ort_wrapper.cli", "bundle", package, "--out", str(out), "--provider", "cpu"]
    made = run_python(python, bundle, _CLEAN)
    assert made.returncode == 0, made.stderr
    code, report = doctor_json(python, "--dist", str(out))
    left_out = sorted(f["detail"].split(":")[0] for f in by_code(report, "provider.left-out"))
    assert left_out == ["CUDAExecutionProvider", "TensorrtExecutionProvider"]
    cuda_lines = by_code(report, "host.driver") + by_code(report, "host.cuda-runtime")
    assert [f["status"] for f in cuda_lines] == ["pass"], cuda_lines  # the driver line only
    assert code == 0, [f for f in checks(report) if f["status"] != "pass"]

"""Honest providers with the real onnxruntime-gpu wheel on a host without CUDA 12 (slow tier).

ORT lists CUDA as available, logs a load failure and silently runs on CPU. ort_wrapper must
record the fallback with the missing sonames, and raise in strict mode and for require_gpu().
"""

from __future__ import annotations

import json

import pytest

from support.cuda_envs import gpu_venv, run_python

pytestmark = pytest.mark.slow

SCRIPT = """
import json
import ort_wrapper as ow
from ort_wrapper.runtime.probe import identity_model
model = identity_model()
info = ow.init()
report = {"available": list(info.available_providers)}
session = ow.SessionBuilder.from_bytes(model).with_providers("cuda", "cpu").build()
report["providers"] = list(session.providers)
report["fallbacks"] = [[f.provider, f.reason] for f in session.fallbacks]
for name, build in (("strict", lambda b: b.with_providers("cuda", "cpu", strict=True)),
                    ("require_gpu", lambda b: b.require_gpu())):
    try:
        build(ow.SessionBuilder.from_bytes(model)).build()
        report[name] = None
    except ow.ProviderUnavailableError as exc:
        report[name] = str(exc)
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def report() -> dict:
    result = run_python(gpu_venv(), SCRIPT, env={"LD_LIBRARY_PATH": None})
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_ort_claims_cuda_but_the_session_runs_on_cpu(report: dict) -> None:
    assert "CUDAExecutionProvider" in report["available"]
    assert report["providers"] == ["CPUExecutionProvider"]


def test_the_fallback_names_the_missing_sonames_and_their_packages(report: dict) -> None:
    [[provider, reason]] = report["fallbacks"]
    assert provider == "CUDAExecutionProvider"
    assert "libonnxruntime_providers_cuda.so cannot be loaded: missing libcublasLt.so.12" in reason
    for soname, package in (
        ("libcudart.so.12", "nvidia-cuda-runtime-cu12"),
        ("libcudnn.so.9", "nvidia-cudnn-cu12"),
        ("libcublasLt.so.12", "nvidia-cublas-cu12"),
    ):
        assert soname in reason and package in reason


def test_strict_and_require_gpu_raise_with_the_reason(report: dict) -> None:
    assert "requested provider(s) not in use" in report["strict"]
    assert "libcublasLt.so.12" in report["strict"]
    assert "no GPU provider in use" in report["require_gpu"]
    assert "libcublasLt.so.12" in report["require_gpu"]

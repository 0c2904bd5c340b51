"""The CUDA proof (slow tier): bundle the real onnxruntime-gpu==1.23.2 with the nvidia-* wheels.

Before bundling, the CUDA provider cannot be loaded on this machine (no CUDA 12): the loader
misses ``libcublasLt.so.12`` and ORT silently falls back to CPU. After bundling, with
LD_LIBRARY_PATH unset, every soname of the provider resolves inside the bundle, ORT maps the
bundled provider, and a CUDA session fails for lack of a driver/device, not of a library (on a
machine with a GPU and driver it runs on CUDA). The bundle holds only the needed closure: fewer
bytes than ``pip install onnxruntime-gpu[cuda,cudnn]`` puts on disk.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ort_wrapper.bundle.write import make_bundle, verify_bundle
from ort_wrapper.errors import BundleError
from ort_wrapper.runtime.gpu import nvidia_driver

import models
from support.cuda_envs import gpu_venv, nvidia_libs, run_python

pytestmark = pytest.mark.slow

LOADER = Path("/lib64/ld-linux-x86-64.so.2")
PROVIDER = "libonnxruntime_providers_cuda.so"
MISSING = "libcublasLt.so.12: cannot open shared object file"
NO_ENV = {"LD_LIBRARY_PATH": None, "ORT_WRAPPER_DIST": None, "ORT_LIB_LOCATION": None}

PROBE = """
import json, sys
from ort_wrapper.runtime.loader import init
from ort_wrapper.runtime.procmaps import loaded_libraries
info = init(sys.argv[2] if len(sys.argv) > 2 else None)
import onnxruntime as ort
report = {"module": ort.__file__, "library_paths": [str(p) for p in info.library_paths]}
try:
    session = ort.InferenceSession(
        sys.argv[1], providers=["CUDAExecutionProvider", "CPUExecutionProvider"]
    )
    report["providers"] = session.get_providers()
except Exception as exc:
    report["providers"] = None
    report["error"] = f"{type(exc).__name__}: {exc}"
report["cuda_provider_mapped"] = [
    str(p) for p in loaded_libraries() if p.name == "libonnxruntime_providers_cuda.so"
]
print("REPORT " + json.dumps(report))
"""


def _report(proc: subprocess.CompletedProcess[str]) -> dict:
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("REPORT ")), None)
    assert line is not None, f"probe failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    report = json.loads(line.removeprefix("REPORT "))
    report["text"] = proc.stdout + proc.stderr + report.get("error", "")
    return report


def _ldso_list(library: Path) -> subprocess.CompletedProcess[str]:
    if not LOADER.exists():
        pytest.skip(f"{LOADER} is not this host's loader")
    env = {"PATH": "/usr/bin:/bin"}  # LD_LIBRARY_PATH unset
    return subprocess.run(
        [str(LOADER), "--list", str(library)], capture_output=True, text=True, env=env
    )


def _bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


@pytest.fixture(scope="module")
def cuda(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    python, libs = gpu_venv(), nvidia_libs()
    where = run_python(
        python,
        "import importlib.util as u; print(u.find_spec('onnxruntime').origin)",
    )
    assert where.returncode == 0, where.stderr
    src = Path(where.stdout.strip()).parent
    search_dirs = sorted((libs / "nvidia").glob("*/lib"))
    tmp = tmp_path_factory.mktemp("bundle-cuda")
    model = models.save(models.add_model(), tmp / "add.onnx")
    before = _report(run_python(python, ["-c", PROBE, str(model)], env=NO_ENV))
    ldso_before = _ldso_list(src / "capi" / PROVIDER)
    out = tmp / "cuda"
    start = time.monotonic()
    result = make_bundle(src, out, search_dirs=search_dirs, providers=["cuda"])
    seconds = time.monotonic() - start
    after = _report(run_python(python, ["-c", PROBE, str(model), str(out)], env=NO_ENV))
    figures = {
        "bundle_bytes": _bytes(out),
        "pip_bytes": _bytes(libs / "nvidia") + _bytes(src),
        "nvidia_bytes": _bytes(libs / "nvidia"),
        "onnxruntime_gpu_package_bytes": _bytes(src),
        "bundle_seconds": round(seconds, 1),
        "files": result.files,
        "host_requirements": dict(result.host_requirements),
    }
    print(f"\nCUDA bundle figures: {json.dumps(figures)}")
    print(f"before: {before['text'][-1500:]}\nafter: {after['text'][-1500:]}")
    yield {
        "src": src,
        "out": out,
        "search_dirs": search_dirs,
        "before": before,
        "after": after,
        "ldso_before": ldso_before,
        "ldso_after": _ldso_list(out / "python/onnxruntime/capi" / PROVIDER),
        "figures": figures,
        "tmp": tmp,
    }
    shutil.rmtree(out, ignore_errors=True)  # 3 GB; pytest keeps its last three base dirs


def test_before_bundling_the_provider_misses_a_soname(cuda: dict) -> None:
    assert cuda["ldso_before"].returncode != 0
    assert MISSING in cuda["ldso_before"].stderr
    before = cuda["before"]
    assert f"Failed to load library {PROVIDER} with error: {MISSING}" in before["text"]
    assert before["providers"] == ["CPUExecutionProvider"]  # the silent fallback users hit
    assert before["cuda_provider_mapped"] == []


def test_after_bundling_every_soname_resolves_inside_the_bundle(cuda: dict) -> None:
    listing = cuda["ldso_after"]
    assert listing.returncode == 0, listing.stderr
    assert "not found" not in listing.stdout
    out = str(cuda["out"])
    for soname in ("libcublasLt.so.12", "libcudnn.so.9", "libcudart.so.12", "libcufft.so.11"):
        line = next(ln for ln in listing.stdout.splitlines() if ln.strip().startswith(soname))
        assert f"=> {out}/" in line, line
    assert verify_bundle(cuda["out"]) == ()


def test_after_bundling_cuda_fails_for_the_device_not_a_library(cuda: dict) -> None:
    after = cuda["after"]
    bundled_provider = str(cuda["out"] / "python/onnxruntime/capi" / PROVIDER)
    assert Path(after["module"]).is_relative_to(cuda["out"])
    assert all(Path(p).is_relative_to(cuda["out"]) for p in after["library_paths"])
    assert after["cuda_provider_mapped"] == [bundled_provider]  # ORT's dlopen succeeded
    assert "cannot open shared object file" not in after["text"]
    if nvidia_driver().found:
        assert after["providers"][0] == "CUDAExecutionProvider"
    else:
        assert re.search(r"CUDA failure \d+: [^\n]*(driver|device)", after["text"], re.I), after[
            "text"
        ][-2000:]


def test_bundle_is_smaller_than_pip_install(cuda: dict) -> None:
    figures = cuda["figures"]
    assert figures["bundle_bytes"] <= figures["pip_bytes"], figures


def test_tensorrt_without_its_libraries_is_a_clear_error(cuda: dict) -> None:
    out = cuda["tmp"] / "with-tensorrt"
    with pytest.raises(BundleError) as err:
        make_bundle(cuda["src"], out, search_dirs=cuda["search_dirs"], quiet=True)
    assert "libnvinfer.so.10 (needed by libonnxruntime_providers_tensorrt.so" in str(err.value)
    assert "--provider" in str(err.value)
    assert not out.exists()

"""The doctor's parts against real files: the repository venv's onnxruntime wheel, copies of its
libraries, and child processes that map them."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ort_wrapper.doctor.distributions import (
    InstalledDistribution,
    installed_onnxruntime,
    package_info,
    shared_files,
)
from ort_wrapper.doctor.host import cuda_findings, version_findings
from ort_wrapper.doctor.process import duplicate_libraries, family, process_section
from ort_wrapper.doctor.providers import CompiledIn, compiled_in, provider_section
from ort_wrapper.elf.loadable import diagnose_load
from ort_wrapper.matrix import load_matrix
from ort_wrapper.runtime.diagnose import ProviderStatus
from ort_wrapper.runtime.distribution import Distribution
from ort_wrapper.runtime.gpu import find_cuda_libraries

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def module_dist() -> Distribution:
    """The repository venv's onnxruntime wheel (CPU), found without importing it."""
    spec = importlib.util.find_spec("onnxruntime")
    assert spec is not None and spec.submodule_search_locations
    return Distribution("module", Path(spec.submodule_search_locations[0]), "installed module")


def test_package_info_says_which_wheel_wrote_the_files_without_importing(module_dist):
    info = package_info(module_dist.root)
    assert info["package_name"] == "onnxruntime"
    assert info["__version__"] == load_matrix().ort_version
    assert package_info(module_dist.root / "nowhere") == {}


def test_the_installed_cpu_wheel_is_found_with_its_record(module_dist):
    found = [d for d in installed_onnxruntime() if d.name == "onnxruntime"]
    assert len(found) == 1
    dist = found[0]
    assert dist.version == load_matrix().ort_version
    assert dist.location == module_dist.root.parent.resolve()
    assert "onnxruntime/__init__.py" in dist.files
    assert not any(f.endswith(".dist-info/RECORD") for f in dist.files)


def test_shared_files_only_count_within_one_site_packages():
    a = InstalledDistribution("onnxruntime", "1", Path("/s"), frozenset({"x/a.py", "x/b.so"}))
    b = InstalledDistribution("onnxruntime-gpu", "1", Path("/s"), frozenset({"x/a.py"}))
    elsewhere = InstalledDistribution("onnxruntime-gpu", "1", Path("/t"), frozenset({"x/a.py"}))
    assert shared_files(a, b) == {"x/a.py"}
    assert shared_files(a, elsewhere) == frozenset()


def test_compiled_in_providers_come_from_a_child_process(module_dist):
    compiled = compiled_in(module_dist)
    assert compiled.source == "child process", compiled.error
    assert compiled.version == load_matrix().ort_version
    assert "CPUExecutionProvider" in compiled.providers


def test_a_broken_module_is_reported_with_the_import_error_and_file_fallback(tmp_path):
    package = tmp_path / "onnxruntime"
    (package / "capi").mkdir(parents=True)
    (package / "__init__.py").write_text("raise ImportError('libfoo.so.1: cannot open')\n")
    compiled = compiled_in(Distribution("module", package, "installed module"))
    assert compiled.source == "library files"
    assert compiled.error == "ImportError: libfoo.so.1: cannot open"
    assert compiled.providers == ("CPUExecutionProvider",)


def test_glibc_and_libstdcxx_requirements_of_the_wheel(module_dist):
    diagnosis = diagnose_load(module_dist.shared_objects())
    assert module_dist.core_library() in {o.path for o in diagnosis.objects}
    findings, details = version_findings(diagnosis)
    by_family = {d["family"]: d for d in details}
    assert by_family["GLIBC"]["required"] == "GLIBC_2.27"
    assert {f.status for f in findings} == {"pass"}
    old_host = {"GLIBC": "GLIBC_2.17", "GLIBCXX": "GLIBCXX_3.4.19", "CXXABI": "CXXABI_1.3.7"}
    findings, _ = version_findings(diagnose_load(module_dist.shared_objects(), target=old_host))
    errors = {f.name for f in findings if f.status == "fail"}
    assert errors == {"host.glibc", "host.libstdcxx"}
    glibc = next(f for f in findings if f.name == "host.glibc")
    assert "GLIBC_2.27, the host has GLIBC_2.17" in glibc.detail
    assert "glibc 2.27 or newer" in glibc.fix and "chroot or container" in glibc.fix
    assert "nix build .#onnxruntime-cpu" in glibc.fix


def _fake_cuda_dir(tmp_path: Path, *sonames: str) -> Path:
    """Copies of a real ELF library under CUDA file names."""
    source = next(Path("/lib/x86_64-linux-gnu").glob("libz.so.1*"), None) or Path(sys.executable)
    tmp_path.mkdir(parents=True, exist_ok=True)
    for soname in sonames:
        real = tmp_path / f"{soname}.0.1"
        shutil.copy(source, real)
        (tmp_path / soname).symlink_to(real.name)
    return tmp_path


def test_cuda_libraries_are_found_with_their_version(tmp_path):
    directory = _fake_cuda_dir(tmp_path, "libcudart.so.13", "libcudart.so.12")
    found = find_cuda_libraries("libcudart.so", [("CUDA toolkit", directory)])
    assert sorted((f.soname, f.version, f.major) for f in found) == [
        ("libcudart.so.12", "12.0.1", "12"),
        ("libcudart.so.13", "13.0.1", "13"),
    ]


def test_a_cuda_runtime_of_another_major_version_is_called_out(tmp_path):
    directory = _fake_cuda_dir(tmp_path, "libcudart.so.13")
    cuda = ProviderStatus("CUDAExecutionProvider", True)
    toolkit = [("CUDA toolkit", directory)]
    findings, details = cuda_findings([cuda], {"cuda_version": "12.2"}, toolkit)
    assert [f["soname"] for f in details[0]["found"]] == ["libcudart.so.13"]
    runtime = next(f for f in findings if "CUDA runtime" in f.detail)
    assert runtime.status == "warn"
    assert "needs libcudart.so.12 (this package was built with CUDA 12.2)" in runtime.detail
    assert "only libcudart.so.13" in runtime.detail
    assert runtime.fix == "pip install 'nvidia-cuda-runtime-cu12>=12,<13'"
    (directory / "libcudart.so.12").symlink_to("libcudart.so.13.0.1")
    findings, _ = cuda_findings([cuda], None, [("CUDA toolkit", directory)])
    assert next(f for f in findings if "CUDA runtime" in f.detail).status == "pass"
    assert cuda_findings([ProviderStatus("CPUExecutionProvider", True)]) == ([], [])


def test_duplicate_families_are_grouped_by_real_file(tmp_path):
    a = _fake_cuda_dir(tmp_path / "a", "libcudart.so.12") / "libcudart.so.12"
    b = _fake_cuda_dir(tmp_path / "b", "libcudart.so.12") / "libcudart.so.12"
    assert family("/x/libcublasLt.so.12") == "libcublasLt"
    assert duplicate_libraries([a, b, Path("/lib/libz.so.1")]) == {"libcudart": (a, b)}
    assert duplicate_libraries([a, a.resolve()]) == {}


_CHILD = """
import ctypes, json, sys
for path in sys.argv[1:]:
    ctypes.CDLL(path)
from ort_wrapper.doctor.process import process_section
print(json.dumps([f.to_json() for f in process_section().checks]))
"""


def _in_child(*libraries: Path) -> list[dict[str, str]]:
    env = {"PYTHONPATH": str(REPO / "python"), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, *map(str, libraries)],
        capture_output=True, text=True, env=env, timeout=120, check=True,
    )  # fmt: skip
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_two_onnxruntime_libraries_in_one_process_is_an_error(tmp_path, module_dist):
    core = module_dist.core_library()
    assert core is not None
    copy = tmp_path / core.name
    shutil.copy(core, copy)
    one = _in_child(core)
    assert [(f["name"], f["status"]) for f in one] == [("process.onnxruntime", "pass")]
    assert str(core) in one[0]["detail"]
    two = _in_child(core, copy)
    duplicate = [f for f in two if f["name"] == "process.duplicate"]
    assert len(duplicate) == 1 and duplicate[0]["status"] == "fail"
    assert str(copy) in duplicate[0]["detail"] and str(core) in duplicate[0]["detail"]


def test_nothing_loaded_reads_as_ok():
    section = process_section(paths=[])
    assert [(f.name, f.status) for f in section.checks] == [("process.onnxruntime", "pass")]
    assert section.data == {"loaded": [], "duplicates": {}}


def test_a_provider_library_that_is_not_elf_is_an_error_finding_not_a_crash(tmp_path):
    capi = tmp_path / "onnxruntime" / "capi"
    capi.mkdir(parents=True)
    (capi / "libonnxruntime_providers_cuda.so").write_text("truncated download\n")
    dist = Distribution("module", tmp_path / "onnxruntime", "installed module")
    compiled = CompiledIn(("CUDAExecutionProvider", "CPUExecutionProvider"), "manifest")
    section, statuses = provider_section(dist, compiled)
    (bad,) = [f for f in section.checks if f.name == "provider.unusable"]
    assert bad.status == "fail" and "not an ELF file" in bad.detail
    assert [s.name for s in statuses] == ["CPUExecutionProvider"]
    assert section.data["core"] is None


def test_a_provider_a_bundle_left_out_on_purpose_is_an_ok_line_not_an_error(tmp_path):
    """`bundle --provider cpu` of the GPU wheel: the runtime still has CUDA and TensorRT
    compiled in, their libraries are absent by choice (bundle.json's leftOut). Only what was
    left out is excused: TensorRT, not listed there, stays an error (the control)."""
    from ort_wrapper.bundle import BUNDLE_JSON_RELPATH
    from ort_wrapper.manifest import Manifest

    root = tmp_path / "bundle"
    (root / "lib").mkdir(parents=True)
    manifest = Manifest("1.23.2", "pypi-gpu", "shared", ("CPUExecutionProvider",), ())
    manifest.write(root)
    dist = Distribution("prefix", root, "argument", manifest)
    providers = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")
    compiled = CompiledIn(providers, "child process", "1.23.2")

    def codes() -> dict[str, list[tuple[str, str]]]:
        findings = provider_section(dist, compiled)[0].checks
        out: dict[str, list[tuple[str, str]]] = {}
        for f in findings:
            out.setdefault(f.name, []).append((f.status, f.detail))
        return out

    before = codes()
    assert len(before["provider.unusable"]) == 2
    (root / BUNDLE_JSON_RELPATH).write_text(
        json.dumps(
            {
                "version": "1.23.2",
                "source": {"variant": "pypi-gpu"},
                "files": [],
                "leftOut": [
                    "onnxruntime/capi/libonnxruntime_providers_cuda.so "
                    "(CUDAExecutionProvider not selected)"
                ],
            }
        )
    )
    after = codes()
    [(severity, fact)] = after["provider.left-out"]
    assert severity == "pass" and fact.startswith(
        "CUDAExecutionProvider: libonnxruntime_providers_cuda"
    )
    [(severity, fact)] = after["provider.unusable"]
    assert severity == "fail" and fact.startswith("TensorrtExecutionProvider")
    [(severity, fact)] = after["provider.manifest"]
    assert severity == "warn" and "CUDA" not in fact and "Tensorrt" in fact
    (root / BUNDLE_JSON_RELPATH).write_text("{not json")  # unreadable: judged as the files are
    assert len(codes()["provider.unusable"]) == 2


def test_providers_a_bundle_left_out_need_no_driver_and_no_cuda_library(tmp_path):
    """`bundle --provider cpu` of the GPU wheel on a host without CUDA: the host section asks
    nothing for the providers left out (no driver, no CUDA runtime, no cuDNN), so nothing
    there is above pass; the same files without bundle.json are judged as the GPU build."""
    from ort_wrapper.bundle import BUNDLE_JSON_RELPATH
    from ort_wrapper.doctor.host import host_section
    from ort_wrapper.manifest import Manifest
    from ort_wrapper.runtime.gpu import nvidia_driver

    root = tmp_path / "bundle"
    (root / "lib").mkdir(parents=True)
    manifest = Manifest("1.23.2", "pypi-gpu", "shared", ("CPUExecutionProvider",), ())
    manifest.write(root)
    dist = Distribution("prefix", root, "argument", manifest)
    providers = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")
    compiled = CompiledIn(providers, "child process", "1.23.2")

    def host_findings() -> dict[str, list[tuple[str, str]]]:
        _, statuses = provider_section(dist, compiled)
        out: dict[str, list[tuple[str, str]]] = {}
        for finding in host_section(diagnose_load(()), statuses).checks:
            out.setdefault(finding.name, []).append((finding.status, finding.detail))
        return out

    driver = nvidia_driver()
    no_driver = not (driver.found and driver.error is None)
    as_gpu_build = host_findings()  # the control: nothing says these were left out
    assert len(as_gpu_build["host.cuda-runtime"]) >= 2  # CUDA runtime, cuDNN, TensorRT
    if no_driver:
        [(status, fact)] = as_gpu_build["host.driver"]
        assert status == "fail" and fact.endswith(f"needed by {', '.join(providers[:2])}")
    left_out = [
        f"onnxruntime/capi/libonnxruntime_providers_{name}.so ({provider} not selected)"
        for name, provider in (("cuda", providers[1]), ("tensorrt", providers[0]))
    ]
    record = {"version": "1.23.2", "source": {"variant": "pypi-gpu"}, "files": [],
              "leftOut": left_out}  # fmt: skip
    (root / BUNDLE_JSON_RELPATH).write_text(json.dumps(record))
    cpu_only = host_findings()
    assert "host.cuda-runtime" not in cpu_only
    [(status, fact)] = cpu_only["host.driver"]
    assert status == "pass"
    if no_driver:
        assert fact.endswith(
            "(not needed: no NVIDIA provider is compiled in, or the bundle left them out)"
        )

"""doctor and check give one verdict: doctor's provider findings carry ProviderStatus's own
problem and fix as separate lines, on real ELF files; the C API probe's garbage output is a
failed check, not a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from ort_wrapper.doctor.providers import CompiledIn, provider_section
from ort_wrapper.manifest import Manifest
from ort_wrapper.report import FAIL, Report, render_text
from ort_wrapper.runtime.catalog import CPU_PROVIDER
from ort_wrapper.runtime.diagnose import provider_status
from ort_wrapper.runtime.distribution import Distribution
from ort_wrapper.runtime.gpu import nvidia_driver

from support.bundles import small_elf

CUDA = "CUDAExecutionProvider"
PROVIDERS = (CUDA, CPU_PROVIDER)


@pytest.fixture
def cuda_prefix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Distribution, Path]:
    """A prefix whose CUDA provider library (a real ELF file) needs libcudnn.so.9, and a
    site-packages directory on sys.path where an nvidia-cudnn wheel would put it."""
    root = tmp_path / "prefix"
    small_elf(root / "lib", "libonnxruntime_providers_cuda.so", needed=("libcudnn.so.9",))
    small_elf(root / "lib", "libonnxruntime_providers_shared.so")
    manifest = Manifest("1.23.2", "pypi-gpu", "shared", PROVIDERS, ())
    manifest.write(root)
    site = tmp_path / "site"
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delenv("LD_LIBRARY_PATH", raising=False)
    return Distribution("prefix", root, "argument", manifest), site


def _cuda_finding(dist: Distribution):
    section, statuses = provider_section(dist, CompiledIn(PROVIDERS, "child process"))
    (finding,) = [f for f in section.checks if f.detail.startswith(CUDA)]
    (status,) = [s for s in statuses if s.name == CUDA]
    (status_json,) = [p for p in section.data["providers"] if p["name"] == CUDA]
    return finding, status, status_json, Report("ort-wrapper doctor", "a prefix", (section,))


def test_a_wheel_only_library_reads_as_its_status_problem_with_its_own_fix(cuda_prefix) -> None:
    dist, site = cuda_prefix
    small_elf(site / "nvidia" / "cudnn" / "lib", "libcudnn.so.9")
    finding, status, status_json, report = _cuda_finding(dist)
    assert status.needs_preload == ("libcudnn.so.9",)
    # With a driver the provider would load after a preload; without one it is unusable.
    expected = "provider.needs-preload" if nvidia_driver().found else "provider.unusable"
    assert finding.name == expected
    assert status.problem() in finding.detail and "; fix:" not in finding.detail
    assert finding.fix == status.fix() and "preload_dlls()" in finding.fix
    # check's one-line reason is the same problem followed by the same fix
    assert status.reason() == f"{status.problem()}; fix: {status.fix()}"
    assert (status_json["problem"], status_json["fix"]) == (status.problem(), status.fix())
    assert provider_status(CUDA, available=PROVIDERS, library_dirs=dist.library_dirs) == status
    text = render_text(report)
    assert text.count("preload_dlls()") == 1
    assert "libcudnn.so.9" in text and "nvidia-cudnn-cu12 wheel" in text


def test_a_missing_library_is_an_error_whose_fix_installs_it(cuda_prefix) -> None:
    dist, _ = cuda_prefix
    finding, status, _, _ = _cuda_finding(dist)
    assert finding.name == "provider.unusable" and finding.status == "fail"
    assert finding.detail == f"{CUDA} is compiled in but unusable: {status.problem()}"
    assert "missing libcudnn.so.9" in finding.detail and "; fix:" not in finding.detail
    assert finding.fix == status.fix() and "pip install 'nvidia-cudnn-cu12" in finding.fix


def test_host_libraries_are_listed_on_one_line_by_their_category(cuda_prefix) -> None:
    dist, _ = cuda_prefix
    _, _, status_json, report = _cuda_finding(dist)
    closure = {e["soname"]: e for e in status_json["closure"]}
    assert closure["libc.so.6"]["host"] == "glibc"
    assert closure["libcudnn.so.9"]["host"] is None
    (host_line,) = [ln for ln in render_text(report).splitlines() if "host-provided" in ln]
    assert "libc.so.6" in host_line and "libcudnn.so.9" not in host_line
    assert not any(ln.strip().startswith("libc.so.6") for ln in render_text(report).splitlines())


def test_the_manifest_rule_is_checks_rule(cuda_prefix) -> None:
    """doctor's provider.manifest and check's providers section run one rule, one check."""
    from ort_wrapper.runtime.diagnose import manifest_check

    dist, _ = cuda_prefix
    claimed = ("TensorrtExecutionProvider", *PROVIDERS)
    lying = Distribution(
        "prefix", dist.root, "argument", Manifest("1.23.2", "x", "shared", claimed, ())
    )
    section, _ = provider_section(lying, CompiledIn(PROVIDERS, "child process"))
    (doctor,) = [f for f in section.checks if f.name == "provider.manifest"]
    assert doctor == manifest_check(claimed, PROVIDERS)
    assert doctor.status == FAIL and "TensorrtExecutionProvider" in doctor.detail
    assert doctor.data["notCompiledIn"] == ["TensorrtExecutionProvider"] and doctor.fix

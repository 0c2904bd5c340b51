"""The report model as doctor uses it (ort_wrapper.report) and the data behind the hints
(catalog, sonames.json, providers.json)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ort_wrapper.report import FAIL, PASS, WARN, Check, Kind, Report, Section, render_text
from ort_wrapper.runtime.catalog import provider_spec, soname_source
from ort_wrapper.runtime.diagnose import MissingLibrary, ProviderStatus

DOCS = Path(__file__).resolve().parents[3] / "docs" / "doctor.md"


def test_a_check_rejects_an_unknown_status():
    with pytest.raises(ValueError, match="status"):
        Check(Kind.HOST_GLIBC, "fatal", "x")


def test_the_exit_code_is_1_exactly_when_a_finding_fails():
    ok = Check(Kind.HOST_GLIBC, PASS, "fine")
    warning = Check(Kind.HOST_CUDA_RUNTIME, WARN, "hm", fix="do this")
    error = Check(Kind.HOST_DRIVER, FAIL, "no driver", fix="install it")
    assert Report("t", "s", (Section("host", (ok, warning)),)).exit_code == 0
    report = Report("t", "s", (Section("host", (ok, warning, error)),))
    assert report.exit_code == 1 and report.section("host").status == FAIL
    assert report.to_json()["summary"] == {"pass": 1, "fail": 1, "warn": 1, "skip": 0, "info": 0}
    assert report.of(Kind.HOST_DRIVER) == (error,)
    lines = render_text(report).splitlines()
    (row,) = [n for n, line in enumerate(lines) if "no driver" in line]
    assert lines[row].split()[:2] == ["FAIL", "host.driver"]
    assert lines[row + 1].strip() == "fix: install it"  # the fix, under its check's detail
    assert lines[row + 1].index("fix:") == lines[row].index("no driver")


def test_every_finding_kind_is_documented_with_its_statuses():
    text = DOCS.read_text()
    documented = set(re.findall(r"^\| `([a-z]+\.[a-z-]+)` \|", text, flags=re.M))
    assert documented == {kind.value for kind in Kind}


def test_cuda_sonames_name_their_pypi_package_flake_output_and_debian_package():
    source = soname_source("libcublasLt.so.12")
    assert source.requirement == "nvidia-cublas-cu12>=12,<13"
    assert source.hints[0] == "pip install 'nvidia-cublas-cu12>=12,<13'"
    assert any(h.startswith("nix build .#onnxruntime-cuda-dyn") for h in source.hints)
    assert "apt install libcublaslt12 (Debian trixie)" in source.hints
    unknown = soname_source("libnothing.so.7")
    assert unknown.hints == ("install the package that ships libnothing.so.7",)


def test_the_cuda_provider_was_built_for_cuda_12_and_cudnn_9_as_data():
    spec = provider_spec("CUDAExecutionProvider")
    assert spec is not None
    assert spec.built_for == {"CUDA runtime": "libcudart.so.12", "cuDNN": "libcudnn.so.9"}
    assert provider_spec("CPUExecutionProvider").built_for == {}  # type: ignore[union-attr]


def test_a_provider_fix_is_one_pip_command_for_all_missing_wheels():
    missing = tuple(
        MissingLibrary(s, ("libonnxruntime_providers_cuda.so",), soname_source(s))
        for s in ("libcublasLt.so.12", "libcublas.so.12", "libcudnn.so.9")
    )
    status = ProviderStatus(
        "CUDAExecutionProvider", True, Path("libonnxruntime_providers_cuda.so"), True,
        missing=missing,
    )  # fmt: skip
    fix = status.fix()
    assert fix.startswith("pip install 'nvidia-cublas-cu12>=12,<13' 'nvidia-cudnn-cu12>=9,<10',")
    assert "preload_dlls()" in fix and "nix build .#onnxruntime-cuda-dyn" in fix
    assert not status.loadable and "libcublasLt.so.12" in status.reason()
    assert ProviderStatus("CPUExecutionProvider", True).fix() == ""

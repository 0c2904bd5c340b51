"""doctor and check give one verdict: doctor's provider findings are ProviderStatus's own
reason and fix; the C API probe's garbage output is a failed check, not a crash."""

from __future__ import annotations

from pathlib import Path

from ort_wrapper.doctor.providers import _finding
from ort_wrapper.elf.resolve import Closure, ResolvedLibrary
from ort_wrapper.runtime.capi import probe as capi
from ort_wrapper.runtime.diagnose import ProviderStatus

LIB = Path("/x/libonnxruntime_providers_cuda.so")


def _status(source: str, path: str | None, device: str | None = None) -> ProviderStatus:
    lib = ResolvedLibrary(
        "libcudnn.so.9",
        Path(path) if path else None,
        source,
        (LIB.name,),
        (),
    )
    closure = Closure(LIB, ("libcudnn.so.9",), {"libcudnn.so.9": lib})
    return ProviderStatus(
        "CUDAExecutionProvider", True, LIB, True, closure, (), device, ("CUDAExecutionProvider",)
    )


def test_a_wheel_only_library_is_the_shared_needs_preload_verdict() -> None:
    status = _status("search-dir", "/site/nvidia/cudnn/lib/libcudnn.so.9")
    assert status.needs_preload == ("libcudnn.so.9",)
    finding = _finding(status, usable_gpu=False)
    assert finding.code == "provider.needs-preload" and finding.severity == "warning"
    assert finding.fix == status.fix() and "preload_dlls()" in finding.fix
    assert status.reason().startswith(finding.fact.removeprefix("CUDAExecutionProvider: "))


def test_an_unusable_provider_reads_as_its_status_reason() -> None:
    status = _status("search-dir", "/site/nvidia/cudnn/lib/libcudnn.so.9", device="no driver")
    finding = _finding(status, usable_gpu=False)
    assert finding.code == "provider.unusable" and finding.severity == "error"
    assert status.reason().split("; fix: ")[0] in finding.fact
    assert finding.fix == status.fix()


def test_a_library_on_the_loaders_path_is_usable() -> None:
    finding = _finding(_status("ld.so.conf", "/usr/lib/libcudnn.so.9"), usable_gpu=False)
    assert finding.code == "provider.usable" and finding.severity == "ok"


def test_garbage_from_the_capi_probe_is_a_failed_result(monkeypatch) -> None:
    monkeypatch.setattr(capi, "run_command", lambda *a, **k: (0, "{not json\n", None))
    result = capi.probe_shared(Path("/x/libonnxruntime.so"), 23)
    assert result.error and "printed" in result.error and not result.api_ok

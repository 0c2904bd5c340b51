"""The provider names every module uses come from one place and agree with
data/providers.json."""

from __future__ import annotations

from ort_wrapper.runtime.catalog import (
    CPU_PROVIDER,
    gpu_providers,
    provider_spec,
    resolve_provider_name,
)


def test_the_cpu_provider_constant_is_the_built_in_provider_of_the_data_file() -> None:
    spec = provider_spec(CPU_PROVIDER)
    assert spec is not None and spec.library is None and spec.device is None
    assert resolve_provider_name("cpu") == CPU_PROVIDER


def test_every_gpu_provider_is_a_known_provider_with_a_device() -> None:
    for platform in ("linux", "darwin"):
        names = gpu_providers(platform)
        assert names and CPU_PROVIDER not in names
        for name in names:
            spec = provider_spec(name)
            assert spec is not None and spec.device is not None, name

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


def test_every_capi_entry_is_typed_and_names_functions_of_ort_s_api() -> None:
    from ort_wrapper.runtime.capi.api import _SIGNATURES, committed_table
    from ort_wrapper.runtime.catalog import GenericAppend, OptionsAppend, provider_specs

    functions = set(committed_table().functions)
    forms = {type(s.capi) for s in provider_specs().values()}
    assert forms == {OptionsAppend, GenericAppend, type(None)}
    for spec in provider_specs().values():
        if isinstance(spec.capi, OptionsAppend):
            calls = (spec.capi.create, spec.capi.update, spec.capi.release, spec.capi.append)
            assert set(calls) <= functions & set(_SIGNATURES), (spec.name, calls)
            assert spec.capi.append.startswith("SessionOptionsAppendExecutionProvider_")


def test_a_capi_entry_of_neither_form_names_the_provider() -> None:
    import pytest

    from ort_wrapper.runtime.catalog import _capi

    assert _capi("X", None) is None
    with pytest.raises(ValueError, match="X: capi 'options:CUDA_V2' is neither form"):
        _capi("X", "options:CUDA_V2")
    for wrong in ({"generic": "A", "options": {}}, {"options": {"create": "C"}}, {"generic": 1}):
        with pytest.raises(ValueError, match=r"X: capi .* is neither form"):
            _capi("X", wrong)

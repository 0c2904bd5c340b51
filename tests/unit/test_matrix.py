"""The variant matrix: one place for the ORT version, strict validation."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

from ort_wrapper.errors import VariantError
from ort_wrapper.matrix import api_version_for, load_matrix, parse_matrix

from helpers import REPO


def test_pyproject_pins_the_matrix_version_in_its_extras_only() -> None:
    """The ONNX Runtime wheel is a choice (extras cpu and gpu), never a plain dependency: two
    wheels installing one `onnxruntime` package would conflict."""
    project = tomllib.loads((REPO / "python/pyproject.toml").read_text())["project"]
    assert not [d for d in project["dependencies"] if d.startswith("onnxruntime")]
    version = load_matrix().ort_version
    extras = project["optional-dependencies"]
    assert extras["cpu"] == [f"onnxruntime=={version}"]
    assert extras["gpu"] == [f"onnxruntime-gpu=={version}"]


def test_the_packaged_matrix_is_the_repo_file() -> None:
    assert load_matrix().path == (REPO / "pkgs/variants.json").resolve()


def test_api_version() -> None:
    assert api_version_for("1.23.2") == 23 and api_version_for("1.21.0") == 21
    with pytest.raises(VariantError):
        api_version_for("two")


def _raw() -> dict:
    return json.loads((REPO / "pkgs/variants.json").read_text())


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["variants"]["cpu"].pop("linkMode"), "variant 'cpu': missing key 'linkMode'"),
        (
            lambda d: d["variants"]["cuda"].update(colour="red"),
            "variant 'cuda': unknown key(s) colour",
        ),
        (lambda d: d["variants"]["cpu"].update(linkMode="both"), "variant 'cpu': linkMode must be"),
        (lambda d: d["variants"]["cpu"]["cmakeFlags"].update(X=3), "CMake flag 'X' must be a bool"),
        (
            lambda d: d["variants"]["cpu"].update(experimental="no"),
            "key 'experimental' must be bool",
        ),
        (lambda d: d.pop("ort"), "missing key 'ort'"),
        (
            lambda d: d["variants"]["cuda-dyn"]["runtimeLoaded"][1].pop("loadedBy"),
            "variant 'cuda-dyn': runtimeLoaded[1]: missing key 'loadedBy'",
        ),
        (
            lambda d: d["variants"]["cpu"]["platforms"].append(7),
            "variant 'cpu': every entry of 'platforms' must be a string",
        ),
        (
            lambda d: d["variants"]["coreml"].update(patches="0001.patch"),
            "variant 'coreml': key 'patches' must be list, got str",
        ),
        (lambda d: d.update(extra=1), "unknown key(s) extra"),
        (lambda d: d["ort"].update(version="latest"), "cannot derive the C API version"),
        # The tag is derived from the version (Nix: rev = "v${version}"); not a second fact.
        (lambda d: d["ort"].update(rev="v1.23.2"), "ort: unknown key(s) rev"),
        (lambda d: d["ort"].pop("hash"), "ort: missing key 'hash'"),
    ],
)
def test_bad_matrices_name_the_variant_and_key(mutate, message: str) -> None:
    data = _raw()
    mutate(data)
    with pytest.raises(VariantError, match=re.escape(message)):
        parse_matrix(data, Path("variants.json"))


def test_unknown_variant_lists_the_known_ones() -> None:
    with pytest.raises(
        VariantError, match="unknown variant 'gpu' \\(known: coreml, cpu, cuda, cuda-dyn\\)"
    ):
        load_matrix().variant("gpu")


def test_every_patch_of_every_series_exists() -> None:
    for variant in load_matrix().variants.values():
        for name in variant.patches:
            assert (REPO / "patches" / name).is_file(), f"{variant.name}: {name} is missing"

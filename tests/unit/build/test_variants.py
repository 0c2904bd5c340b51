"""pkgs/variants.json as finalize and the lab use it: errors name the variant and the key,
and every patch a series names exists."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ort_wrapper.errors import VariantError
from ort_wrapper.matrix import load_matrix, parse_matrix

from helpers import REPO


def _raw() -> dict:
    return json.loads((REPO / "pkgs/variants.json").read_text())


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
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
    ],
)
def test_errors_name_the_variant_and_key(mutate, message: str) -> None:
    data = _raw()
    mutate(data)
    with pytest.raises(VariantError, match=re.escape(message)):
        parse_matrix(data, Path("variants.json"))


def test_every_patch_of_every_series_exists() -> None:
    for variant in load_matrix().variants.values():
        for name in variant.patches:
            assert (REPO / "patches" / name).is_file(), f"{variant.name}: {name} is missing"

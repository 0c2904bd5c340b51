"""The one ``nix`` fixture of the nix tier: real Nix over a copy of the flake and the stand-in
nixpkgs, one per test module (skipped where nix is not installed)."""

from __future__ import annotations

import shutil

import pytest

from support.nix import Nix


@pytest.fixture(scope="module")
def nix(tmp_path_factory: pytest.TempPathFactory) -> Nix:
    if shutil.which("nix") is None:
        pytest.skip("nix is not installed (tools/setup.sh installs Debian's nix-bin)")
    return Nix(tmp_path_factory.mktemp("nix"))

"""Real Nix run against a copy of the flake with every input pointed at the stand-in nixpkgs
under tests/nix (the ``nix`` fixture of tests/nix/conftest.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

__all__ = ["NIX_CONFIG", "ROOT", "STAND_IN", "Nix"]

ROOT = Path(__file__).resolve().parents[2]
STAND_IN = ROOT / "tests" / "nix" / "nixpkgs"
# The flake's source: what pkgs/*.nix read. Copied so that evaluation sees the working tree
# (a git flake would see only committed files) without the virtual environment.
FLAKE_PARTS = ("flake.nix", "flake.lock", "pkgs", "patches", "python")
NIX_CONFIG = "\n".join(
    (
        "experimental-features = nix-command flakes",
        "build-users-group =",
        "sandbox = false",
        "substituters =",
        "warn-dirty = false",
    )
)


def _nix_env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ, NIX_CONFIG=NIX_CONFIG, HOME=str(tmp / "home"))
    if not os.access("/nix/store", os.W_OK):
        env["NIX_CONFIG"] += f"\nstore = {tmp / 'nix-root'}"
    return env


class Nix:
    """Runs nix against a copy of the flake with every input pointed at the stand-in."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.env = _nix_env(tmp)
        self.flake = tmp / "flake"
        self.stand_in = tmp / "nixpkgs"
        ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
        for part in FLAKE_PARTS:
            src, dst = ROOT / part, self.flake / part
            if src.is_dir() and not dst.exists():
                shutil.copytree(src, dst, symlinks=True, ignore=ignore)
            elif src.is_file():
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst)
        shutil.copytree(STAND_IN, self.stand_in)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["nix", *args], env=self.env, capture_output=True, text=True, check=False
        )
        if check and done.returncode:
            raise AssertionError(f"nix {' '.join(args)} failed:\n{done.stderr[-4000:]}")
        return done

    def flake_cmd(self, verb: str, *args: str, check: bool = True):
        return self.run(
            *verb.split(),
            f"path:{self.flake}",
            "--override-input",
            "nixpkgs",
            f"path:{self.stand_in}",
            *args,
            check=check,
        )

    def eval_json(self, attr: str, apply: str | None = None) -> Any:
        args = ["eval", "--json", f"path:{self.flake}#{attr}"]
        args += ["--override-input", "nixpkgs", f"path:{self.stand_in}"]
        if apply:
            args += ["--apply", apply]
        return json.loads(self.run(*args).stdout)

    def derivation(self, drv_path: str) -> dict[str, Any]:
        return json.loads(self.run("show-derivation", drv_path).stdout)[drv_path]

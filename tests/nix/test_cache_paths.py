"""A binary cache can serve the flake's outputs to any machine: every output's ``drvPath`` (so
its output path) is the same when the flake is evaluated from two checkouts at different
paths, one of which also holds what running the tests and ``pip install -e`` leave behind
(``__pycache__``, ``*.pyc``, ``*.egg-info``: ignored by git, but part of a ``path:`` flake).
Evaluated by real Nix against the stand-in nixpkgs (``support.nix.Nix``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from test_flake import MATRIX

from support.nix import Nix

pytestmark = pytest.mark.nix

DRV_PATHS = "builtins.mapAttrs (_: builtins.mapAttrs (_: d: d.drvPath))"
PROGRAMS = "builtins.mapAttrs (_: builtins.mapAttrs (_: a: a.program))"


def _outputs(nix: Nix) -> dict[str, Any]:
    """Every output's drvPath (an app's program path), per kind and system."""
    found = {kind: nix.eval_json(kind, apply=DRV_PATHS) for kind in ("packages", "devShells")}
    found["checks"] = nix.eval_json("checks", apply=DRV_PATHS)
    found["apps"] = nix.eval_json("apps", apply=PROGRAMS)
    return found


def _leave_test_litter(flake: Path) -> None:
    """What a developer's checkout holds after the tests and an editable install."""
    cache = flake / "python" / "ort_wrapper" / "__pycache__"
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "errors.cpython-311.pyc").write_bytes(b"\x00stale bytecode")
    (flake / "python" / "ort_wrapper" / "stray.pyc").write_bytes(b"\x00")
    egg = flake / "python" / "ort_wrapper.egg-info"
    egg.mkdir(exist_ok=True)
    (egg / "PKG-INFO").write_text("Name: ort-wrapper\n")


def test_every_output_has_one_drv_path_whatever_the_checkout(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    if shutil.which("nix") is None:
        pytest.skip("nix is not installed (tools/setup.sh installs Debian's nix-bin)")
    here = Nix(tmp_path_factory.mktemp("checkout"))
    there = Nix(tmp_path_factory.mktemp("another-machine") / "src" / "onnxruntime-builder")
    _leave_test_litter(there.flake)
    first, second = _outputs(here), _outputs(there)
    assert first == second
    text = json.dumps(first)
    assert str(here.tmp) not in text and str(there.tmp) not in text
    for name, variant in MATRIX["variants"].items():
        for system in variant["platforms"]:
            assert first["packages"][system][f"onnxruntime-{name}"].endswith(".drv")
    counts = {kind: sum(len(v) for v in first[kind].values()) for kind in first}
    assert all(counts.values()), counts


def _cpu_drv(nix: Nix) -> str:
    return nix.eval_json("packages.x86_64-linux.onnxruntime-cpu.drvPath")


def test_what_changes_the_cached_outputs(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Files outside the derivations' inputs (docs, tests) change no output path; a change to
    the Python package does change the ORT builds' (finalize runs in their fixup phase), so a
    cache never serves a distribution finalized by other code."""
    if shutil.which("nix") is None:
        pytest.skip("nix is not installed (tools/setup.sh installs Debian's nix-bin)")
    base = Nix(tmp_path_factory.mktemp("base"))
    docs = Nix(tmp_path_factory.mktemp("docs"))
    (docs.flake / "docs").mkdir()
    (docs.flake / "docs" / "note.md").write_text("a note\n")
    (docs.flake / "README.md").write_text("# another readme\n")
    code = Nix(tmp_path_factory.mktemp("code"))
    module = code.flake / "python" / "ort_wrapper" / "errors.py"
    module.write_text(module.read_text() + "\n# a comment\n")
    assert _cpu_drv(docs) == _cpu_drv(base) != _cpu_drv(code)

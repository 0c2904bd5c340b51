"""``ort-wrapper wheel``: a platform wheel carrying the CPU bundle, repaired by auditwheel.

Installed into a fresh venv (without onnxruntime), ``init()`` finds the carried bundle with no
environment variable. The tag auditwheel gives must be the one the bundle's GLIBC requirement
allows.
"""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from helpers import cli
from support.cuda_envs import REPO, require_pypi

INIT = """
import importlib.metadata as md, json
import ort_wrapper
info = ort_wrapper.init()
try:
    md.version("onnxruntime")
    installed = True
except md.PackageNotFoundError:
    installed = False
print(json.dumps({"origin": info.distribution.origin, "root": str(info.distribution.root),
                  "library_paths": [str(p) for p in info.library_paths],
                  "onnxruntime_installed": installed, "version": info.version}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("wheel")
    proc = cli("wheel", "--out-dir", str(out), "--json", "-q", cwd=REPO)  # module-scoped: a child
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_auditwheel_tag_is_the_lowest_the_symbol_versions_allow(wheel: dict) -> None:
    glibc = wheel["bundle"]["hostRequirements"]["GLIBC"]  # e.g. GLIBC_2.36
    major, minor = glibc.removeprefix("GLIBC_").split(".")[:2]
    print(
        f"\nwheel {Path(wheel['wheel']).name}: {wheel['bytes']} bytes, tag {wheel['platformTag']}"
    )
    assert wheel["lowestManylinux"] == f"manylinux_{major}_{minor}_x86_64"
    assert Path(wheel["wheel"]).name.endswith(f"-cp311-cp311-{wheel['platformTag']}.whl")
    assert [p.name for p in Path(wheel["wheel"]).parent.iterdir()] == [Path(wheel["wheel"]).name]


def test_installed_wheel_finds_its_carried_bundle(wheel: dict, tmp_path: Path) -> None:
    require_pypi("fresh venv for the ort-wrapper wheel (numpy, pyelftools, ...)")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", wheel["wheel"]], capture_output=True, text=True
    )
    assert install.returncode == 0, install.stderr
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home())}  # no LD_LIBRARY_PATH, no ORT_*
    proc = subprocess.run(
        [str(python), "-c", INIT], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    site = env_dir / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    carried = site / "site-packages" / "ort_wrapper" / "_bundle"
    assert result["origin"] == "carried bundle" and Path(result["root"]) == carried
    assert result["library_paths"]
    assert all(Path(p).is_relative_to(carried) for p in result["library_paths"])
    assert result["onnxruntime_installed"] is False  # the wheel does not pull a second runtime
    assert result["version"] == "1.23.2"

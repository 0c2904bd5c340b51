"""Smoke: the linking section on the installed wheel, on a prefix made from it, and on
deliberately broken distributions (each fails with the right names, never a crash); the
``check`` command's exit codes for them, run in this process (its worker is still a child)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from unit.check.check_prefixes import write_manifest

from ort_wrapper.check.linking import linking_section
from ort_wrapper.manifest import MANIFEST_RELPATH
from ort_wrapper.runtime.distribution import DistributionKind, locate

from support.prefixes import make_prefix


def _failed(section) -> dict[str, str]:
    return {c.name: c.detail for c in section.checks if c.status == "fail"}


@pytest.fixture(scope="module")
def prefix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_prefix(tmp_path_factory.mktemp("wheel") / "dist", wheel="lib")


def test_installed_wheel_links() -> None:
    section = linking_section(locate(None, strict=False))
    assert section.status == "pass", _failed(section)
    names = [c.name for c in section.checks]
    assert "NEEDED of libonnxruntime.so.1.23.2" in names
    capi = next(c for c in section.checks if c.name.startswith("C API"))
    assert capi.data["api"] == 23 and capi.data["version"] == "1.23.2"
    versions = next(
        c for c in section.checks if c.name == "symbol versions of libonnxruntime.so.1.23.2"
    )
    assert versions.data["required"] == {
        "CXXABI": "CXXABI_1.3.11",
        "GLIBC": "GLIBC_2.27",
        "GLIBCXX": "GLIBCXX_3.4.22",
    }


def test_prefix_links_with_runpath_origin(prefix: Path) -> None:
    section = linking_section(locate(prefix, strict=False))
    assert section.status == "pass", _failed(section)
    objects = next(t for t in section.tables if t.title.startswith("shared objects"))
    assert objects.rows[0][:3] == ("libonnxruntime.so.1.23.2", "libonnxruntime.so.1", "$ORIGIN")


def test_manifest_naming_a_missing_library(prefix: Path, tmp_path: Path) -> None:
    broken = tmp_path / "dist"
    shutil.copytree(prefix, broken, symlinks=True)
    (broken / "lib" / "libonnxruntime_providers_shared.so").unlink()
    target = locate(broken, strict=False)
    assert target.kind is DistributionKind.BROKEN and "libonnxruntime_providers_shared.so" in (
        target.problem or ""
    )
    failed = _failed(linking_section(target))
    assert failed["manifest files"] == "missing: lib/libonnxruntime_providers_shared.so"


def test_library_with_an_unresolvable_needed(prefix: Path, tmp_path: Path) -> None:
    broken = tmp_path / "dist"
    shutil.copytree(prefix, broken, symlinks=True)
    lib = broken / "lib" / "libonnxruntime_providers_shared.so"
    subprocess.run(["patchelf", "--add-needed", "libnot-here.so.7", str(lib)], check=True)
    write_manifest(
        broken,
        version="1.23.2",
        link_mode="shared",
        python_path="python",
        entries=[
            ("lib/libonnxruntime.so.1.23.2", "shared"),
            ("lib/libonnxruntime_providers_shared.so", "shared"),
        ],
    )
    failed = _failed(linking_section(locate(broken, strict=False)))
    assert failed == {
        "NEEDED of libonnxruntime_providers_shared.so": (
            "unresolved: libnot-here.so.7 (needed by libonnxruntime_providers_shared.so)"
        )
    }


def test_cli_exit_codes_for_broken_distributions(prefix: Path, tmp_path: Path, run_cli) -> None:
    broken = tmp_path / "dist"
    shutil.copytree(prefix, broken, symlinks=True)
    (broken / "lib" / "libonnxruntime.so.1.23.2").unlink()
    done = run_cli(
        "check", "--quiet", "--dist", str(broken), "--only", "linking,providers",
        "--json", str(tmp_path / "r.json"),
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    linking, providers = report["sections"]
    assert linking["status"] == providers["status"] == "fail"
    assert "missing: lib/libonnxruntime.so.1.23.2" in json.dumps(linking)
    assert "libonnxruntime.so.1.23.2" in providers["checks"][0]["detail"]


def test_cli_not_a_distribution(tmp_path: Path, run_cli) -> None:
    done = run_cli("check", "--quiet", "--dist", str(tmp_path / "nowhere"))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "no such directory" in done.stdout
    (tmp_path / MANIFEST_RELPATH).parent.mkdir(parents=True)
    (tmp_path / MANIFEST_RELPATH).write_text("[1, 2]")
    done = run_cli("check", "--quiet", "--dist", str(tmp_path), "--only", "linking")
    assert done.returncode == 1 and "expected a JSON object" in done.stdout


def test_cli_usage_errors(run_cli) -> None:
    assert run_cli("check", "--quiet", "--only", "linking,speed").returncode == 2
    assert run_cli("check", "--quiet", "--runs", "0").returncode == 2

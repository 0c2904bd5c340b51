"""The static path of the linking section: a C program compiled and linked against a synthetic
static distribution's archives with its link flags, then run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from unit.check.check_prefixes import static_prefix

from ort_wrapper.check.capi import probe_static
from ort_wrapper.check.linking import linking_section
from ort_wrapper.check.target import resolve_target
from ort_wrapper.manifest import MANIFEST_RELPATH, load_manifest

pytestmark = pytest.mark.skipif(
    shutil.which("cc") is None or shutil.which("ar") is None, reason="needs cc and ar"
)


def test_static_prefix_links_and_answers(tmp_path: Path) -> None:
    root = static_prefix(tmp_path / "dist")
    target = resolve_target(root)
    assert target.kind == "static" and target.dist is not None
    section = linking_section(target)
    assert section.status == "pass", section.to_json()
    capi = next(c for c in section.checks if c.name.startswith("C API"))
    assert "GetApi(21) non-null; GetVersionString() = 1.21.0" in capi.detail
    linked = next(c for c in section.checks if c.name == "shared object from the link flags")
    assert (
        Path(linked.data["path"]).is_file() and "cached by the manifest's hashes" in linked.detail
    )


def test_static_prefix_with_wrong_version_fails(tmp_path: Path) -> None:
    root = static_prefix(tmp_path / "dist", version="1.20.9")
    data = json.loads((root / MANIFEST_RELPATH).read_text())
    data["version"] = "1.21.0"
    (root / MANIFEST_RELPATH).write_text(json.dumps(data))
    capi = next(
        c for c in linking_section(resolve_target(root)).checks if c.name.startswith("C API")
    )
    assert capi.status == "fail" and "1.20.9, expected 1.21.0" in capi.detail


def test_static_prefix_missing_archive_fails_naming_it(tmp_path: Path) -> None:
    root = static_prefix(tmp_path / "dist")
    (root / "lib" / "libonnxruntime_session.a").unlink()
    section = linking_section(resolve_target(root))
    failed = {c.name: c.detail for c in section.checks if c.status == "fail"}
    assert "lib/libonnxruntime_session.a" in failed["manifest files"]
    assert "compile/link failed" in failed["C API (static link)"]


def test_no_compiler_is_reported(tmp_path: Path) -> None:
    root = static_prefix(tmp_path / "dist")
    result = probe_static(root, load_manifest(root), 21, cc="/nonexistent/cc")
    assert result.error and "cannot run /nonexistent/cc" in result.error


def test_missing_cc_on_path_is_a_clear_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = static_prefix(tmp_path / "dist")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = probe_static(root, load_manifest(root), 21)
    assert result.error == "no C compiler: `cc` is not on PATH (install gcc or clang)"

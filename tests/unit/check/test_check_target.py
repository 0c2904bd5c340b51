"""Bad input becomes a Target with a reason, never an exception."""

from __future__ import annotations

from pathlib import Path

from ort_wrapper.check import resolve_target
from ort_wrapper.manifest import MANIFEST_RELPATH


def test_installed_wheel_is_a_module_target() -> None:
    target = resolve_target(None)
    assert target.kind == "module" and target.version == "1.23.2" and target.dist is not None


def test_missing_path(tmp_path: Path) -> None:
    target = resolve_target(tmp_path / "nope")
    assert target.kind == "broken" and "no such directory" in (target.problem or "")


def test_directory_without_manifest(tmp_path: Path) -> None:
    target = resolve_target(tmp_path)
    assert target.kind == "broken" and str(MANIFEST_RELPATH) in (target.problem or "")


def test_manifest_that_does_not_parse(tmp_path: Path) -> None:
    (tmp_path / MANIFEST_RELPATH).parent.mkdir(parents=True)
    (tmp_path / MANIFEST_RELPATH).write_text("{not json")
    target = resolve_target(tmp_path)
    assert target.kind == "broken" and "not valid JSON" in (target.problem or "")


def test_a_file_is_not_a_distribution(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    assert "is a file" in (resolve_target(tmp_path / "f").problem or "")

"""Bad input becomes a Target with a reason, never an exception."""

from __future__ import annotations

from pathlib import Path

from ort_wrapper.manifest import MANIFEST_RELPATH
from ort_wrapper.runtime.distribution import DistributionKind, locate


def test_installed_wheel_is_a_module_target() -> None:
    target = locate(None, strict=False)
    assert (
        target.kind is DistributionKind.MODULE
        and target.version == "1.23.2"
        and target.problem is None
    )


def test_missing_path(tmp_path: Path) -> None:
    target = locate(tmp_path / "nope", strict=False)
    assert target.kind is DistributionKind.BROKEN and "no such directory" in (target.problem or "")


def test_directory_without_manifest(tmp_path: Path) -> None:
    target = locate(tmp_path, strict=False)
    assert target.kind is DistributionKind.BROKEN and str(MANIFEST_RELPATH) in (
        target.problem or ""
    )


def test_manifest_that_does_not_parse(tmp_path: Path) -> None:
    (tmp_path / MANIFEST_RELPATH).parent.mkdir(parents=True)
    (tmp_path / MANIFEST_RELPATH).write_text("{not json")
    target = locate(tmp_path, strict=False)
    assert target.kind is DistributionKind.BROKEN and "not valid JSON" in (target.problem or "")


def test_a_file_is_not_a_distribution(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    assert "is a file" in (locate(tmp_path / "f", strict=False).problem or "")

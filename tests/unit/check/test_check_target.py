"""Bad input becomes a BROKEN Distribution with a reason (`locate(strict=False)`), never an
exception."""

from __future__ import annotations

from pathlib import Path

import pytest

from ort_wrapper.errors import InitError
from ort_wrapper.manifest import MANIFEST_RELPATH
from ort_wrapper.runtime.distribution import DistributionKind, core_of, locate


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


def test_a_package_directory_or_the_folder_holding_it_is_a_module() -> None:
    """The one classifier: init(), check, doctor and bundle call an onnxruntime package (or
    its site-packages) a module, as bundle always did."""
    installed = locate(None)
    for given in (installed.path, installed.path.parent):
        found = locate(given)
        assert found.kind is DistributionKind.MODULE and found.root == installed.root
        assert found.origin == "argument" and found.version == "1.23.2"


def test_strict_locate_raises_what_the_broken_record_says(tmp_path: Path) -> None:
    broken = locate(tmp_path, strict=False)
    with pytest.raises(InitError) as caught:
        locate(tmp_path)
    assert str(caught.value) == broken.problem
    assert broken.describe() == f"{tmp_path}: not a usable distribution ({broken.problem})"
    assert not broken.has_files and broken.shared_objects() == ()


def test_the_core_library_is_the_shortest_libonnxruntime_so_name() -> None:
    names = ["libonnxruntime_providers_shared.so", "libonnxruntime.so.1.23.2", "libonnxruntime.so"]
    assert core_of(Path(n) for n in names) == Path("libonnxruntime.so")
    assert core_of([Path("libonnxruntime_providers_cuda.so")]) is None

"""Merging ORT's component archives with an MRI script: all members, an index, checked."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import FakeBuild

from ort_wrapper.elf.archive import read_archive
from ort_wrapper.errors import BuildError
from ort_wrapper.finalize.archives import (
    check_merged,
    component_archives,
    merge_archives,
    mri_script,
)


def test_components_are_found_by_glob_the_installed_copy_first(fake_build: FakeBuild) -> None:
    found = component_archives(fake_build.prefix, fake_build.build_dir)
    assert [p.name for p in found] == ["libonnxruntime_framework.a", "libonnxruntime_session.a"]
    assert found[1].parent == fake_build.prefix / "lib"
    # a new component appears without any list to update
    shutil.copy2(fake_build.archives["re2"], fake_build.build_dir / "libonnxruntime_lora.a")
    names = [p.name for p in component_archives(fake_build.prefix, fake_build.build_dir)]
    assert "libonnxruntime_lora.a" in names


def test_no_components_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match=r"no libonnxruntime_\*\.a in"):
        component_archives(tmp_path, tmp_path)


def test_mri_script() -> None:
    assert (
        mri_script("out.a", ["a.a", "b.a"]) == "CREATE out.a\nADDLIB a.a\nADDLIB b.a\nSAVE\nEND\n"
    )


def test_merge_keeps_every_member_and_indexes(fake_build: FakeBuild, tmp_path: Path) -> None:
    inputs = component_archives(fake_build.prefix, fake_build.build_dir)
    merged = tmp_path / "libonnxruntime.a"
    merge_archives(inputs, merged)  # the build dir's name has a '+', which MRI cannot quote
    info = read_archive(merged)
    assert info.has_index
    assert sorted(m.name for m in info.members) == [
        "framework.o",
        "ort_session_entry_point_with_a_long_name.o",
        "util.o",
        "util.o",  # same name in two components: both kept
    ]


def test_the_member_check_catches_a_difference(fake_build: FakeBuild, tmp_path: Path) -> None:
    inputs = component_archives(fake_build.prefix, fake_build.build_dir)
    merged = tmp_path / "libonnxruntime.a"
    merge_archives(inputs, merged)
    with pytest.raises(BuildError, match=r"missing: \['re2.o'\]"):
        check_merged(merged, [*inputs, fake_build.archives["re2"]])
    with pytest.raises(BuildError, match=r"unexpected: \['framework.o', 'util.o'\]"):
        check_merged(merged, inputs[1:])


def test_merge_is_reproducible(fake_build: FakeBuild, tmp_path: Path) -> None:
    inputs = component_archives(fake_build.prefix, fake_build.build_dir)
    merge_archives(inputs, tmp_path / "one.a")
    merge_archives(inputs, tmp_path / "two.a")
    assert (tmp_path / "one.a").read_bytes() == (tmp_path / "two.a").read_bytes()


def test_a_failed_merge_names_its_inputs(
    fake_build: FakeBuild, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not the scratch path of the merge (gone by the time anyone reads the message)."""
    inputs = component_archives(fake_build.prefix, fake_build.build_dir)
    names = r"\(libonnxruntime_framework\.a, libonnxruntime_session\.a\)"
    monkeypatch.setenv("AR", "false")
    with pytest.raises(BuildError, match=rf"ar -M failed merging 2 archives {names}"):
        merge_archives(inputs, tmp_path / "out" / "libonnxruntime.a")
    monkeypatch.delenv("AR")
    ranlib = tmp_path / "ranlib-that-drops-the-index"
    ranlib.write_text("#!/bin/sh\nprintf '!<arch>\\n' > \"$2\"\n")  # argv: -D merged.a
    ranlib.chmod(0o755)
    monkeypatch.setenv("RANLIB", str(ranlib))
    with pytest.raises(BuildError) as info:
        merge_archives(inputs, tmp_path / "out" / "libonnxruntime.a")
    message = str(info.value)
    assert message.startswith(
        "the archive merged from libonnxruntime_framework.a, libonnxruntime_session.a "
        "has no symbol index"
    )
    assert "/tmp" not in message and "merged.a" not in message
    assert not list((tmp_path / "out").iterdir())  # no scratch folder left beside the output

"""Reading ar archives: members (long names included), the symbol index, member symbols."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import FakeBuild

from ort_wrapper.elf.archive import archive_symbols, iter_members, member_digests, read_archive
from ort_wrapper.errors import ElfError


def test_members_in_order_with_long_names_and_index(fake_build: FakeBuild) -> None:
    info = read_archive(fake_build.archives["onnxruntime_session"])
    assert [m.name for m in info.members] == [
        "ort_session_entry_point_with_a_long_name.o",
        "util.o",
    ]
    assert info.has_index
    assert all(data.startswith(b"\x7fELF") for _, data in iter_members(info))


def test_an_archive_without_index_is_seen_as_such(fake_build: FakeBuild, tmp_path: Path) -> None:
    [(_, data)] = iter_members(read_archive(fake_build.archives["re2"]))
    obj = tmp_path / "re2.o"
    obj.write_bytes(data)
    bare = tmp_path / "libbare.a"
    subprocess.run(["ar", "rcS", str(bare), str(obj)], check=True)  # S: no symbol index
    assert not read_archive(bare).has_index


def test_member_symbols(fake_build: FakeBuild) -> None:
    raw, helper = archive_symbols(fake_build.archives["absl_base"])
    assert raw.defined == {"absl_raw_log"} and raw.undefined == {"absl_sync_lock"}
    assert helper.defined == {"absl_base_helper"} and not helper.undefined
    assert raw.name.endswith("libabsl_base.a(raw_logging.o)")


def test_digests_tell_members_apart(fake_build: FakeBuild) -> None:
    digests = member_digests(read_archive(fake_build.archives["onnxruntime_framework"]))
    assert [name for name, _ in digests] == ["framework.o", "util.o"]
    assert len({d for _, d in digests}) == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not an archive at all", "is not an ar archive"),
        (b"!<thin>\n", "is a thin archive"),
        (b"!<arch>\nshort", "corrupt archive member header"),
    ],
)
def test_bad_archives_are_named(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "libbad.a"
    path.write_bytes(content)
    with pytest.raises(ElfError, match=message):
        read_archive(path)


def test_a_member_that_is_not_elf(tmp_path: Path) -> None:
    text = tmp_path / "notes.o"
    text.write_text("plain text\n")
    archive = tmp_path / "libtext.a"
    subprocess.run(["ar", "rcS", str(archive), str(text)], check=True)
    with pytest.raises(
        ElfError, match=r"libtext.a\(notes.o\) is neither an ELF nor a Mach-O object"
    ):
        archive_symbols(archive)

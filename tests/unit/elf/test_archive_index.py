"""The archive symbol index as a linker reads it: GNU (binutils ``ar``), BSD/darwin
(``llvm-ar --format=darwin``) and lib.exe's layout (two ``/`` members, NUL-ended long names),
the last written here byte by byte as the format describes it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ort_wrapper.elf.archive import read_archive, read_index
from ort_wrapper.errors import ElfError

pytestmark = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("cc", "ar", "clang", "llvm-ar")),
    reason="needs cc, ar, clang and llvm-ar (tools/setup.sh)",
)


def _objects(folder: Path, compile_cmd: list[str]) -> list[Path]:
    out = []
    for name, fn in (("first_member_with_a_long_name", "alpha"), ("b", "beta")):
        src = folder / f"{name}.c"
        src.write_text(f"int {fn}(void) {{ return 1; }}\nint {fn}_2(void) {{ return 2; }}\n")
        obj = folder / f"{name}.o"
        subprocess.run([*compile_cmd, str(src), "-o", str(obj)], check=True)
        out.append(obj)
    return out


@pytest.mark.parametrize(
    ("compile_cmd", "archive_cmd"),
    [
        (["cc", "-c"], ["ar", "rcs"]),
        (["clang", "-target", "arm64-apple-macos13", "-c"], ["llvm-ar", "--format=darwin", "rcs"]),
    ],
    ids=["gnu", "darwin"],
)
def test_index_maps_each_symbol_to_its_member(
    tmp_path: Path, compile_cmd: list[str], archive_cmd: list[str]
) -> None:
    objects = _objects(tmp_path, compile_cmd)
    lib = tmp_path / "libx.a"
    subprocess.run([*archive_cmd, str(lib), *map(str, objects)], check=True)
    index = {name.lstrip("_"): member.name for name, member in read_index(read_archive(lib))}
    long_name = "first_member_with_a_long_name.o"
    assert index == {"alpha": long_name, "alpha_2": long_name, "beta": "b.o", "beta_2": "b.o"}


def _header(name: str, size: int) -> bytes:
    return f"{name:<16}{0:<12}{0:<6}{0:<6}{644:<8}{size:<10}`\n".encode()


def _member(name: str, data: bytes) -> bytes:
    return _header(name, len(data)) + data + (b"\n" if len(data) % 2 else b"")


def test_lib_exe_layout(tmp_path: Path) -> None:
    """First linker member (big-endian), second linker member (little-endian, skipped),
    a long-name table with NUL-ended names, then the object."""
    names = b"a_very_long_object_name_from_msvc.obj\0"
    body = b"\x64\x86" + bytes(62)  # a COFF header's first bytes; its content is not read here
    first_size = 4 + 4 + len(b"sym_a\0")
    second = (1).to_bytes(4, "little") + bytes(4) + (1).to_bytes(4, "little") + b"\1\0sym_a\0"
    offset = 8 + len(_member("/", bytes(first_size))) + len(_member("/", second))
    offset += len(_member("//", names))
    first = (1).to_bytes(4, "big") + offset.to_bytes(4, "big") + b"sym_a\0"
    data = b"!<arch>\n" + _member("/", first) + _member("/", second) + _member("//", names)
    data += _member("/0", body)
    lib = tmp_path / "msvc.lib"
    lib.write_bytes(data)
    info = read_archive(lib)
    assert [m.name for m in info.members] == ["a_very_long_object_name_from_msvc.obj"]
    [(symbol, member)] = read_index(info)
    assert symbol == "sym_a" and member.name == "a_very_long_object_name_from_msvc.obj"


def test_an_index_cut_short_is_an_error(tmp_path: Path) -> None:
    data = b"!<arch>\n" + _member("/", (5).to_bytes(4, "big") + bytes(4))
    lib = tmp_path / "cut.a"
    lib.write_bytes(data)
    with pytest.raises(ElfError, match="cut short"):
        read_index(read_archive(lib))

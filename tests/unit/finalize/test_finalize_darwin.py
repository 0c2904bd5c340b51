"""finalize and link-flags on a darwin build: Mach-O objects in BSD-format archives, made here
with Debian's clang (``-target arm64-apple-macos13``) and ``llvm-ar --format=darwin``, and the
flags linked by LLVM's ld64 port (``ld64.lld``, Apple's ld's command line) against stub
``.tbd`` files for libc++ and the frameworks (no macOS SDK here)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import MACHO, SOURCES, FakeBuild

from ort_wrapper.cli import main
from ort_wrapper.elf.archive import ObjectFormat, archive_format, archive_symbols, read_archive
from ort_wrapper.errors import ElfError
from ort_wrapper.finalize.darwin import system_flags
from ort_wrapper.finalize.linkflags import format_flags
from ort_wrapper.finalize.stage import finalize
from ort_wrapper.manifest import load_manifest, substitute
from ort_wrapper.matrix import load_matrix

CPU = load_matrix().variant("cpu")
COREML = load_matrix().variant("coreml")

pytestmark = pytest.mark.skipif(
    not all(shutil.which(t) for t in (*MACHO.compile[:1], MACHO.archive[0], "llvm-nm")),
    reason="needs clang and LLVM (tools/setup.sh installs them)",
)

MAIN_C = "int OrtGetApiBase(int);\nint main(void) { return OrtGetApiBase(1) == 34 ? 0 : 1; }\n"
TBD = """--- !tapi-tbd
tbd-version:     4
targets:         [ arm64-macos ]
install-name:    '{}'
{}...
"""
# libSystem exports the lazy-binding helper every link against a dylib references.
SYSTEM_EXPORTS = """exports:
  - targets:     [ arm64-macos ]
    symbols:     [ dyld_stub_binder ]
"""


def _ld64() -> str:
    """ld64.lld, or Debian's versioned ld64.lld-N."""
    for folder in os.environ["PATH"].split(os.pathsep):
        for path in sorted(Path(folder).glob("ld64.lld*")) if Path(folder).is_dir() else ():
            return str(path)
    pytest.skip("needs ld64.lld (Debian's lld)")


def _stub_sdk(root: Path) -> Path:
    """libSystem, libc++ and the frameworks as text stubs, which ld64 reads like the SDK's."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "libSystem.tbd").write_text(TBD.format("/usr/lib/libSystem.B.dylib", SYSTEM_EXPORTS))
    (root / "libc++.tbd").write_text(TBD.format("/usr/lib/libc++.1.dylib", ""))
    for name in ("CoreML", "Foundation"):
        framework = root / f"{name}.framework"
        framework.mkdir()
        install = f"/System/Library/Frameworks/{name}.framework/{name}"
        (framework / f"{name}.tbd").write_text(TBD.format(install, ""))
    return root


def _ld64_link(flags: list[str], work: Path) -> subprocess.CompletedProcess[str]:
    """Compile a Mach-O main calling OrtGetApiBase and link it with ``flags`` as ld64 does
    (with libSystem, as a compiler driver adds it)."""
    work.mkdir(parents=True, exist_ok=True)
    main_c, main_o = work / "main.c", work / "main.o"
    main_c.write_text(MAIN_C)
    subprocess.run([*MACHO.compile, str(main_c), "-o", str(main_o)], check=True)
    sdk = _stub_sdk(work / "sdk")
    command = [_ld64(), "-arch", "arm64", "-platform_version", "macos", "13.0", "13.0"]
    command += ["-e", "_main", "-o", str(work / "main"), str(main_o), f"-L{sdk}", f"-F{sdk}"]
    command = [*command, *flags, "-lSystem"]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def test_bsd_archives_of_mach_o_members_are_read(fake_macho_build: FakeBuild) -> None:
    session = fake_macho_build.archives["onnxruntime_session"]
    info = read_archive(session)
    assert session.read_bytes()[8:11] == b"#1/"  # BSD long names, not GNU's
    assert info.has_index
    assert [m.name for m in info.members] == [
        "ort_session_entry_point_with_a_long_name.o",
        "util.o",
    ]
    assert archive_format(info) is ObjectFormat.MACHO
    entry, util = archive_symbols(session)
    # Mach-O's leading underscore is dropped, as ELF names have none.
    assert entry.defined == {"OrtGetApiBase"}
    assert entry.undefined == {"framework_run", "onnx_check"}
    assert util.defined == {"session_util"}


def test_finalize_merges_with_llvm_ar_and_writes_ld64_flags(
    fake_macho_build: FakeBuild, tmp_path: Path
) -> None:
    manifest = finalize(
        fake_macho_build.prefix, fake_macho_build.build_dir, CPU, fake_macho_build.out, prune=True
    )
    merged = read_archive(fake_macho_build.out / "lib/libonnxruntime.a")
    assert archive_format(merged) is ObjectFormat.MACHO and merged.has_index
    names = [m.name for m in merged.members]
    # both components' 4 members, then the 8 the link pulls from the dependencies (the cycle's
    # included), and not the unused one
    assert len(names) == 12 and "mutex.o" in names and "unused.o" not in names
    flags = manifest.link_flags
    assert flags == ("${prefix}/lib/libonnxruntime.a", "-lc++")
    done = _ld64_link(substitute(flags, fake_macho_build.out), tmp_path)
    assert done.returncode == 0, done.stderr
    nm = subprocess.run(
        ["llvm-nm", "-g", str(tmp_path / "main")], capture_output=True, text=True, check=True
    )
    assert " T _OrtGetApiBase" in nm.stdout and " T _absl_sync_lock" in nm.stdout


def test_gnu_flags_are_what_ld64_refuses(fake_macho_build: FakeBuild, tmp_path: Path) -> None:
    """Why the darwin flags differ: the same archives under GNU ld's syntax do not link."""
    manifest = finalize(
        fake_macho_build.prefix, fake_macho_build.build_dir, CPU, fake_macho_build.out, prune=True
    )
    assert manifest.link_flags[0] == "${prefix}/lib/libonnxruntime.a"
    deps = [p for n, p in fake_macho_build.archives.items() if not n.startswith("onnxruntime_")]
    gnu = [str(fake_macho_build.out / "lib/libonnxruntime.a")]
    gnu += ["-Wl,--start-group"] + [f"-l:{p.name}" for p in deps]
    gnu += sorted({f"-L{p.parent}" for p in deps})
    done = _ld64_link([*gnu, "-Wl,--end-group"], tmp_path)
    assert done.returncode != 0
    assert "unknown argument '-Wl,--start-group'" in done.stderr


def test_link_flags_verb_prints_them_for_a_compiler(
    fake_macho_build: FakeBuild, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                "finalize",
                str(fake_macho_build.prefix),
                "--build-dir",
                str(fake_macho_build.build_dir),
                "--variant",
                "cpu",
                "--out",
                str(fake_macho_build.out),
                "--prune",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["link-flags", str(fake_macho_build.out)]) == 0
    flags = shlex.split(capsys.readouterr().out)
    assert flags[0] == str(fake_macho_build.out / "lib/libonnxruntime.a")
    assert flags[-1] == "-lc++"


def test_coreml_adds_its_frameworks_and_ld64_finds_them(
    fake_macho_build: FakeBuild, tmp_path: Path
) -> None:
    assert system_flags(COREML.providers) == [
        "-lc++",
        "-framework",
        "CoreML",
        "-framework",
        "Foundation",
    ]
    manifest = finalize(
        fake_macho_build.prefix,
        fake_macho_build.build_dir,
        COREML,
        fake_macho_build.out,
        prune=True,
    )
    assert manifest.link_flags[-5:] == ("-lc++", "-framework", "CoreML", "-framework", "Foundation")
    # the manifest reader (which refuses unknown options) takes the framework flags back
    assert load_manifest(fake_macho_build.out).link_flags == manifest.link_flags
    done = _ld64_link(substitute(manifest.link_flags, fake_macho_build.out), tmp_path)
    assert done.returncode == 0, done.stderr


def test_frameworks_stay_whole_for_cmake_and_cargo() -> None:
    flags = ["/d/lib/libonnxruntime.a", "-lc++", "-framework", "CoreML"]
    assert format_flags(flags, "cmake") == "/d/lib/libonnxruntime.a;-lc++;-framework CoreML"
    assert format_flags(flags, "cargo").splitlines()[-2:] == [
        "cargo:rustc-link-lib=dylib=c++",
        "cargo:rustc-link-lib=framework=CoreML",
    ]
    assert format_flags(flags, "cc") == "/d/lib/libonnxruntime.a -lc++ -framework CoreML"


def _system_dylib(work: Path, sysdir: Path, name: str, source: str) -> Path:
    """``lib<name>.dylib`` in ``sysdir`` made by ld64.lld from ``source`` (C), as an installed
    library the build found."""
    work.mkdir(parents=True, exist_ok=True)
    sysdir.mkdir(parents=True, exist_ok=True)
    (work / f"{name}.c").write_text(source)
    obj = work / f"{name}.o"
    subprocess.run([*MACHO.compile, str(work / f"{name}.c"), "-o", str(obj)], check=True)
    dylib = sysdir / f"lib{name}.dylib"
    command = [_ld64(), "-dylib", "-arch", "arm64", "-platform_version", "macos", "13.0", "13.0"]
    command += ["-install_name", str(dylib), "-undefined", "dynamic_lookup"]
    subprocess.run([*command, "-o", str(dylib), str(obj)], check=True)
    return dylib


def _with_system_protobuf(build: FakeBuild, tmp_path: Path) -> Path:
    """The build's protobuf is a system dylib (say nixpkgs' shared protobuf): the folder."""
    sysdir = tmp_path / "sys" / "lib"
    dylib = _system_dylib(tmp_path / "dylib", sysdir, "protobuf.32", SOURCES["protobuf"]["parse.c"])
    (sysdir / "libprotobuf.dylib").symlink_to(dylib.name)
    build.archives["protobuf"].unlink()  # no in-tree protobuf: the system's
    cache = build.build_dir / "CMakeCache.txt"
    cache.write_text(cache.read_text() + f"Protobuf_DIR:PATH={sysdir}/cmake/protobuf\n")
    return sysdir


def test_a_system_dylib_is_linked_by_name(fake_macho_build: FakeBuild, tmp_path: Path) -> None:
    """A dependency the build found installed as a dylib: read with llvm-nm, linked as
    -L DIR -lNAME, which ld64 resolves."""
    sysdir = _with_system_protobuf(fake_macho_build, tmp_path)
    manifest = finalize(
        fake_macho_build.prefix, fake_macho_build.build_dir, CPU, fake_macho_build.out, prune=True
    )
    flags = manifest.link_flags
    assert f"-L{sysdir}" in flags and "-lprotobuf" in flags
    assert not [f for f in flags if "libprotobuf" in f]
    done = _ld64_link(substitute(flags, fake_macho_build.out), tmp_path / "link")
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("prune", [True, False])
def test_only_what_the_link_needs_is_in_the_flags(
    fake_macho_build: FakeBuild, tmp_path: Path, prune: bool
) -> None:
    """An abseil dylib beside the used ones that nothing references is not listed, pruned or
    not (as on Linux: the symbol graph decides); the flags still link."""
    sysdir = _with_system_protobuf(fake_macho_build, tmp_path)
    _system_dylib(
        tmp_path / "extra", sysdir, "absl_extra", "int absl_extra_fn(int x) { return x; }\n"
    )
    manifest = finalize(
        fake_macho_build.prefix, fake_macho_build.build_dir, CPU, fake_macho_build.out, prune=prune
    )
    flags = manifest.link_flags
    assert "-lprotobuf" in flags
    assert not [f for f in flags if "absl_extra" in f]
    assert {s["name"] for s in manifest.extra["sharedLibraries"]} == {"protobuf"}
    done = _ld64_link(substitute(flags, fake_macho_build.out), tmp_path / "link")
    assert done.returncode == 0, done.stderr


def _bsd_member(name_field: str, data: bytes) -> bytes:
    header = f"{name_field:<16}{0:<12}{0:<6}{0:<6}{644:<8}{len(data):<10}`\n".encode()
    return header + data + (b"\n" if len(data) % 2 else b"")


@pytest.mark.parametrize(
    ("name_field", "data", "message"),
    [
        ("#1/abc", b"x" * 8, "bad BSD member name '#1/abc'"),
        ("#1/64", b"short.o\0", "BSD member name length 64"),
    ],
)
def test_a_malformed_bsd_name_is_a_clear_error(
    tmp_path: Path, name_field: str, data: bytes, message: str
) -> None:
    archive = tmp_path / "libbad.a"
    archive.write_bytes(b"!<arch>\n" + _bsd_member(name_field, data))
    with pytest.raises(ElfError, match=re.escape(message)):
        read_archive(archive)


def test_an_empty_archive_has_no_symbols_and_no_format(tmp_path: Path) -> None:
    empty = tmp_path / "libempty.a"
    empty.write_bytes(b"!<arch>\n")  # as glibc's libpthread.a
    assert archive_symbols(empty) == ()
    with pytest.raises(ElfError, match="has no members"):
        archive_format(read_archive(empty))

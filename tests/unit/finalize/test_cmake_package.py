"""The CMake package and the pkg-config file of a finalized distribution, used as consumers
use them: a CMake project with ``find_package(onnxruntime CONFIG REQUIRED)`` and a C program
built with ``pkg-config --static``, each linking the miniature build and running it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import EXPECTED_OUTPUT, MAIN_C, FakeBuild, link_and_run

from ort_wrapper.files import sha256_file
from ort_wrapper.finalize.cmakepkg import CMAKE_FILES, cmake_package
from ort_wrapper.finalize.stage import finalize
from ort_wrapper.manifest import FileEntry, Manifest, load_manifest
from ort_wrapper.matrix import load_matrix

CPU = load_matrix().variant("cpu")
CONFIG, VERSION_FILE = CMAKE_FILES

CMAKELISTS = """cmake_minimum_required(VERSION 3.16)
project(consumer C CXX)
find_package(onnxruntime {wanted} CONFIG REQUIRED)
add_executable(consumer main.c)
target_link_libraries(consumer PRIVATE onnxruntime::onnxruntime)
"""


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is required for the consumer tests (tools/setup.sh installs it)")
    return found


def _cmake_build(prefix: Path, work: Path, wanted: str = "") -> subprocess.CompletedProcess[str]:
    """Configure and build the consumer project against ``prefix`` (found through
    CMAKE_PREFIX_PATH only); returns the failed step's result, else the program's run."""
    src, out = work / "src", work / "out"
    src.mkdir(parents=True)
    (src / "CMakeLists.txt").write_text(CMAKELISTS.format(wanted=wanted))
    (src / "main.c").write_text(MAIN_C)
    cmake = _tool("cmake")
    for argv in (
        [cmake, "-S", str(src), "-B", str(out), f"-DCMAKE_PREFIX_PATH={prefix}"],
        [cmake, "--build", str(out)],
    ):
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode:
            return done
    return subprocess.run([str(out / "consumer")], capture_output=True, text=True, check=False)


def test_finalize_writes_a_listed_relocatable_cmake_package(
    fake_build: FakeBuild, tmp_path: Path
) -> None:
    manifest = finalize(fake_build.prefix, fake_build.build_dir, CPU, fake_build.out, prune=True)
    entries = {e.path: e for e in manifest.files}
    for rel in CMAKE_FILES:
        path = fake_build.out / rel
        assert entries[rel].sha256 == sha256_file(path) and entries[rel].role == "cmake"
        assert str(fake_build.out.parent) not in path.read_text()  # no path of the build
    config = (fake_build.out / CONFIG).read_text()
    assert "STATIC IMPORTED" in config
    # the archive holds the dependencies: the C++ runtime and the system libraries remain
    assert 'INTERFACE_LINK_LIBRARIES "-lstdc++;-lm;-ldl;-lpthread"' in config
    # moved elsewhere, the distribution is still found and links
    moved = tmp_path / "elsewhere" / "ort"
    shutil.copytree(fake_build.out, moved)
    shutil.rmtree(fake_build.out)
    done = _cmake_build(moved, tmp_path / "consumer")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == EXPECTED_OUTPUT


def test_finalize_is_still_idempotent_with_the_package(fake_build: FakeBuild) -> None:
    first = finalize(fake_build.prefix, fake_build.build_dir, CPU, fake_build.out, prune=True)
    again = finalize(fake_build.prefix, fake_build.build_dir, CPU, fake_build.out, prune=True)
    assert again == first
    assert load_manifest(fake_build.out) == first


def test_the_version_file_follows_find_package_rules(fake_build: FakeBuild, tmp_path: Path) -> None:
    finalize(fake_build.prefix, fake_build.build_dir, CPU, fake_build.out, prune=True)  # ORT 1.21.0
    for wanted, found in (("1.21.0 EXACT", True), ("1.20", True), ("1.22", False), ("2", False)):
        done = _cmake_build(fake_build.out, tmp_path / wanted.replace(" ", "-"), wanted)
        assert (done.returncode == 0) == found, (wanted, done.stdout + done.stderr)
        if not found:
            assert "1.21.0" in done.stderr  # CMake names the version it saw


def test_an_incomplete_distribution_is_not_found(fake_build: FakeBuild, tmp_path: Path) -> None:
    finalize(fake_build.prefix, fake_build.build_dir, CPU, fake_build.out, prune=True)
    (fake_build.out / "lib/libonnxruntime.a").unlink()
    done = _cmake_build(fake_build.out, tmp_path / "consumer")
    assert done.returncode != 0
    said = " ".join(done.stderr.split())  # CMake wraps its messages
    assert "lib/libonnxruntime.a is missing: this distribution is incomplete" in said


def test_pkg_config_static_links_and_runs(fake_build: FakeBuild, tmp_path: Path) -> None:
    finalize(fake_build.prefix, fake_build.build_dir, CPU, fake_build.out, prune=True)
    env = {**os.environ, "PKG_CONFIG_PATH": str(fake_build.out / "lib/pkgconfig")}
    flags = subprocess.run(
        [_tool("pkg-config"), "--static", "--cflags", "--libs", "libonnxruntime"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout.split()
    (tmp_path / "main.c").write_text(MAIN_C)
    exe = tmp_path / "main"
    subprocess.run(["cc", str(tmp_path / "main.c"), "-o", str(exe), *flags], check=True)
    done = subprocess.run([str(exe)], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == EXPECTED_OUTPUT


def _shared_library(path: Path, soname: str) -> None:
    src = path.with_suffix(".c")
    src.write_text("int OrtGetApiBase(int x) { return x + 33; }\n")
    argv = ["cc", "-shared", "-fPIC", f"-Wl,-soname,{soname}", str(src), "-o", str(path)]
    subprocess.run(argv, check=True)
    src.unlink()


def test_a_shared_package_points_at_the_library(tmp_path: Path, capsys) -> None:
    """A shared distribution without a ``libonnxruntime.so`` development link (as a wheel's
    bundle or npm's library): the package and ``link-flags`` both link its core library."""
    from ort_wrapper.cli import main

    root = tmp_path / "dist"
    (root / "lib").mkdir(parents=True)
    entry_path = "lib/libonnxruntime.so.1"
    _shared_library(root / entry_path, "libonnxruntime.so.1")
    entry = FileEntry(entry_path, "shared", sha256_file(root / entry_path), "core")
    manifest = Manifest("1.21.0", "libdir", "shared", (), (entry,))
    files = cmake_package(manifest)
    assert "SHARED IMPORTED" in files[CONFIG] and "libonnxruntime.so.1" in files[CONFIG]
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    manifest.write(root)
    done = _cmake_build(root, tmp_path / "cmake")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == EXPECTED_OUTPUT

    assert main(["link-flags", str(root), "--format", "json"]) == 0
    flags = json.loads(capsys.readouterr().out)
    assert flags == [f"{root}/lib/libonnxruntime.so.1", f"-Wl,-rpath,{root}/lib"]
    done = link_and_run(flags, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == EXPECTED_OUTPUT


def test_no_core_library_no_package() -> None:
    assert cmake_package(Manifest("1.21.0", "x", "shared", (), ())) == {}


def test_a_hostile_manifest_cannot_write_cmake_code_or_leave_the_root(tmp_path: Path) -> None:
    """A manifest may come from anyone (a bundle SRC): its strings stay strings in the
    package, and paths that leave the distribution are refused."""
    from ort_wrapper.errors import EscapeError, InitError

    root = tmp_path / "dist"
    (root / "lib").mkdir(parents=True)
    _shared_library(root / "lib/libonnxruntime.so.1", "libonnxruntime.so.1")
    entry = FileEntry("lib/libonnxruntime.so.1", "shared", "0" * 64, "core")
    evil = '1.21.0") message(FATAL_ERROR "injected ${CMAKE_COMMAND}") set(x "'
    manifest = Manifest(evil, "a\nmessage(FATAL_ERROR injected)", "shared", (), (entry,))
    for rel, text in cmake_package(manifest).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    done = _cmake_build(root, tmp_path / "consumer", "1.21")
    assert "injected" not in done.stdout + done.stderr.replace(evil, "")
    assert done.stdout.strip() == EXPECTED_OUTPUT  # still a package, its strings inert
    with pytest.raises(EscapeError, match=r"holds U\+000A"):  # a line break: refused
        cmake_package(replace(manifest, version=evil.replace(" ", "\n")))
    for bad in ("../outside", "/usr/include"):
        with pytest.raises(InitError, match=r"includeDir .* (is absolute|has a '..')"):
            cmake_package(Manifest("1.21.0", "x", "shared", (), (entry,), include_dir=bad))


def test_link_flags_refuse_a_core_library_outside_the_distribution(tmp_path: Path, capsys) -> None:
    from ort_wrapper.cli import main

    entry = FileEntry("../../lib/libonnxruntime.so.1", "shared", "0" * 64, "core")
    Manifest("1.21.0", "x", "shared", (), (entry,)).write(tmp_path)
    assert main(["link-flags", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "'../../lib/libonnxruntime.so.1' has a '..'" in captured.err

"""Our CMake package against Debian sid's real ``libonnxruntime-dev`` 1.23.2 (downloaded once,
cached by version and sha256: ``support.real_libraries.debian_root``), both loaded by CMake
itself: the imported targets, the include spellings that compile, the version rule. Then a
project written the way Debian's package is consumed builds and runs, unchanged, against a
distribution finalize made of the miniature build (its headers in the static install's
``include/onnxruntime/core/session/``)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import EXPECTED_OUTPUT, FakeBuild

from ort_wrapper.finalize.headers import API_DIR, forwarding_headers, include_dirs
from ort_wrapper.finalize.stage import finalize
from ort_wrapper.manifest import FileKind
from ort_wrapper.matrix import load_matrix

from support.real_libraries import debian_root, lab_source_include

CPU = load_matrix().variant("cpu")
DEBIAN_VERSION = "1.23.2"
SPELLINGS = {"flat": "<onnxruntime_cxx_api.h>", "nested": "<onnxruntime/onnxruntime_cxx_api.h>"}

# What find_package(onnxruntime) defines, and which include spellings compile through it.
PROBE = """cmake_minimum_required(VERSION 3.21)
project(probe CXX)
set(CMAKE_CXX_STANDARD 17)
get_directory_property(_before IMPORTED_TARGETS)
find_package(onnxruntime REQUIRED)
get_directory_property(_targets IMPORTED_TARGETS)
list(REMOVE_ITEM _targets ${_before})
foreach(_target IN LISTS _targets)
  get_target_property(_type ${_target} TYPE)
  message(STATUS "probe: target ${_target} ${_type}")
  get_target_property(_dirs ${_target} INTERFACE_INCLUDE_DIRECTORIES)
  foreach(_dir IN LISTS _dirs)
    file(RELATIVE_PATH _dir "${PROBE_PREFIX}" "${_dir}")
    message(STATUS "probe: include ${_target} ${_dir}")
  endforeach()
endforeach()
message(STATUS "probe: version ${onnxruntime_VERSION}")
foreach(_spelling IN ITEMS flat nested)
  add_library(${_spelling} OBJECT ${_spelling}.cpp)
  target_link_libraries(${_spelling} PRIVATE onnxruntime::onnxruntime)
endforeach()
"""

# Version requests against a package of version 1.23.2: in and out of the major version,
# EXACT, ranges with included and excluded ends, ends in another major version.
REQUESTS = (
    "", "1", "1.23", "1.23.2", "1.23.2 EXACT", "1.23 EXACT", "1.24", "2", "0.9",
    "1.20...1.24", "1.20...<1.23.2", "1.20...1.23.2", "1.0...<2", "1.0...<2.1", "1.0...2.5",
    "0.5...1.30", "1.24...2",
)  # fmt: skip

# A project written against Debian's package: no CONFIG, no version, both include spellings.
CONSUMER = """cmake_minimum_required(VERSION 3.16)
project(consumer CXX)
find_package(onnxruntime REQUIRED)
add_executable(consumer main.cpp)
target_link_libraries(consumer PRIVATE onnxruntime::onnxruntime)
"""
CONSUMER_MAIN = """#include <onnxruntime_cxx_api.h>
#include <onnxruntime/onnxruntime_cxx_api.h>
#include <cstdio>
int main() { std::printf("%d\\n", Ort::ApiBase(1)); return 0; }
"""
# The miniature build's C++ header, beside its C header (ORT's includes the C one by name).
FAKE_CXX_HEADER = """#pragma once
extern "C" {
#include "onnxruntime_c_api.h"
}
namespace Ort { inline int ApiBase(int x) { return OrtGetApiBase(x); } }
"""


@dataclass(frozen=True)
class Probed:
    """What one package gave the probe project."""

    targets: dict[str, str]  # imported target -> its type
    includes: dict[str, list[str]]  # target -> include folders, relative to the prefix
    version: str
    compiles: dict[str, bool]  # spelling -> whether a file including it compiled


def _cmake() -> str:
    found = shutil.which("cmake")
    if found is None:
        pytest.fail("cmake is required for the consumer tests (tools/setup.sh installs it)")
    return found


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def _probe(prefix: Path, work: Path, implicit: Path | None = None) -> Probed:
    """Configure the probe against ``prefix`` (through CMAKE_PREFIX_PATH, as consumers do);
    ``implicit`` is a folder searched as the compiler searches /usr/include."""
    src, out = work / "src", work / "out"
    src.mkdir(parents=True)
    (src / "CMakeLists.txt").write_text(PROBE)
    for spelling, header in SPELLINGS.items():
        (src / f"{spelling}.cpp").write_text(f"#include {header}\n")
    argv = [_cmake(), "-S", str(src), "-B", str(out), f"-DCMAKE_PREFIX_PATH={prefix}"]
    argv.append(f"-DPROBE_PREFIX={prefix}")
    if implicit is not None:
        argv.append(f"-DCMAKE_CXX_STANDARD_INCLUDE_DIRECTORIES={implicit}")
    done = _run(*argv)
    assert done.returncode == 0, done.stdout + done.stderr
    said = [
        line.split("probe: ", 1)[1].split()
        for line in done.stdout.splitlines()
        if "probe: " in line
    ]
    targets = {words[1]: words[2] for words in said if words[0] == "target"}
    includes: dict[str, list[str]] = {}
    for words in (w for w in said if w[0] == "include"):
        includes.setdefault(words[1], []).append(words[2])
    version = next(words[1] for words in said if words[0] == "version")
    compiles = {
        spelling: _run(_cmake(), "--build", str(out), "--target", spelling).returncode == 0
        for spelling in SPELLINGS
    }
    return Probed(targets, includes, version, compiles)


def _versions(config_dir: Path, work: Path) -> dict[str, bool]:
    """request -> whether find_package(onnxruntime <request>) accepts the package whose
    config files are in ``config_dir`` (searched alone)."""
    lines = ["cmake_minimum_required(VERSION 3.19)", "project(versions NONE)"]
    search = f'QUIET CONFIG NO_DEFAULT_PATH PATHS "{config_dir}"'
    for request in REQUESTS:
        lines += [
            f"find_package(onnxruntime {request} {search})",
            f'message(STATUS "request [{request}] ${{onnxruntime_FOUND}}")',
            "unset(onnxruntime_DIR CACHE)",
        ]
    src = work / "src"
    src.mkdir(parents=True)
    (src / "CMakeLists.txt").write_text("\n".join(lines) + "\n")
    done = _run(_cmake(), "-S", str(src), "-B", str(work / "out"))
    assert done.returncode == 0, done.stdout + done.stderr
    found = {}
    for line in done.stdout.splitlines():
        if "request [" in line:
            request, _, verdict = line.split("request [", 1)[1].partition("] ")
            found[request] = verdict.strip() in ("1", "TRUE")
    return found


def _with_cxx_header(build: FakeBuild) -> FakeBuild:
    """The miniature build with a C++ API header beside its C one, as ORT installs it."""
    (build.prefix / "include/onnxruntime/core/session/onnxruntime_cxx_api.h").write_text(
        FAKE_CXX_HEADER
    )
    return build


@pytest.fixture(scope="module")
def debian() -> Path:
    return debian_root() / "usr"


def test_the_same_targets_and_include_spellings_as_debians_package(
    debian: Path, fake_build: FakeBuild, tmp_path: Path
) -> None:
    theirs = _probe(debian, tmp_path / "debian", implicit=debian / "include")
    assert theirs.targets == {"onnxruntime::onnxruntime": "SHARED_LIBRARY"}
    assert theirs.includes == {"onnxruntime::onnxruntime": ["include/onnxruntime"]}
    assert theirs.version == DEBIAN_VERSION
    assert theirs.compiles == {"flat": True, "nested": True}
    # the nested spelling is not the target's doing: Debian's users get it from /usr/include
    alone = _probe(debian, tmp_path / "debian-alone")
    assert alone.compiles == {"flat": True, "nested": False}

    build = _with_cxx_header(fake_build)
    finalize(build.prefix, build.build_dir, CPU, build.out, prune=True, version=DEBIAN_VERSION)
    ours = _probe(build.out, tmp_path / "ours")  # no folder searched implicitly
    assert ours.targets.keys() == theirs.targets.keys()
    assert ours.version == theirs.version
    for target, folders in theirs.includes.items():
        assert set(folders) <= set(ours.includes[target])
    assert ours.compiles == theirs.compiles


def test_the_version_rule_is_debians(debian: Path, fake_build: FakeBuild, tmp_path: Path) -> None:
    theirs = _versions(debian / "lib/x86_64-linux-gnu/cmake/onnxruntime", tmp_path / "debian")
    assert set(theirs) == set(REQUESTS)
    assert theirs["1.20...1.24"] and not theirs["1.0...2.5"]  # both answers occur
    finalize(fake_build.prefix, fake_build.build_dir, CPU, fake_build.out, version=DEBIAN_VERSION)
    ours = _versions(fake_build.out / "lib/cmake/onnxruntime", tmp_path / "ours")
    assert ours == theirs


def test_a_project_written_for_debians_package_builds_and_runs_unchanged(
    fake_build: FakeBuild, tmp_path: Path
) -> None:
    build = _with_cxx_header(fake_build)
    manifest = finalize(build.prefix, build.build_dir, CPU, build.out, prune=True)
    headers = {f.path for f in manifest.files if f.kind == FileKind.HEADER}
    # the static install's layout stays; the shared install's spelling is added beside it
    assert f"{API_DIR}/core/session/onnxruntime_cxx_api.h" in headers
    assert f"{API_DIR}/onnxruntime_cxx_api.h" in headers
    src, out = tmp_path / "consumer", tmp_path / "consumer-build"
    src.mkdir()
    (src / "CMakeLists.txt").write_text(CONSUMER)
    (src / "main.cpp").write_text(CONSUMER_MAIN)
    for argv in (
        [_cmake(), "-S", str(src), "-B", str(out), f"-DCMAKE_PREFIX_PATH={build.out}"],
        [_cmake(), "--build", str(out)],
        [str(out / "consumer")],
    ):
        done = _run(*argv)
        assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == EXPECTED_OUTPUT


def test_include_folders_for_each_layout() -> None:
    static = f"{API_DIR}/core/session"
    assert include_dirs(static) == (static, API_DIR, "include")
    assert include_dirs(API_DIR) == (API_DIR, "include")  # ORT's shared install, Debian's
    assert include_dirs("include") == ("include",)  # the release archives' flat include/


SHARED_INSTALL_1_21 = (
    "c_api", "cxx_api", "cxx_inline", "float16", "lite_custom_op", "run_options_config_keys",
    "session_options_config_keys",
)  # fmt: skip


def test_real_headers_of_a_static_install_resolve_both_ways(tmp_path: Path) -> None:
    """ORT 1.21.0's own headers laid out as its static install lays them (its
    ``onnxruntime_session.cmake`` installs ``core/session/``, ``onnxruntime_providers_cpu.cmake``
    puts ``cpu_provider_factory.h`` flat): with the forwarding headers, C++ compiles every
    spelling, each API header defined once."""
    source = lab_source_include(tmp_path / "source")
    root, session = tmp_path / "dist", f"{API_DIR}/core/session"
    shutil.copytree(source / "core/session", root / session)
    shutil.copy2(source / "core/providers/cpu/cpu_provider_factory.h", root / API_DIR)
    forwards = forwarding_headers(root, session)
    # exactly what the shared install puts flat (get_c_cxx_api_headers in cmake/onnxruntime.cmake)
    assert sorted(forwards) == [f"{API_DIR}/onnxruntime_{name}.h" for name in SHARED_INSTALL_1_21]
    for rel, text in forwards.items():
        (root / rel).write_text(text)
    assert forwarding_headers(root, session) == {}  # never over a file that is there
    assert forwarding_headers(root, API_DIR) == {}  # the shared install's layout: nothing to add
    main = tmp_path / "main.cpp"
    includes = (
        "onnxruntime_cxx_api.h",
        "onnxruntime/onnxruntime_cxx_api.h",
        "onnxruntime/cpu_provider_factory.h",
        "onnxruntime/onnxruntime_c_api.h",
    )
    main.write_text("".join(f"#include <{h}>\n" for h in includes) + "int main() { return 0; }\n")
    flags = [f"-I{root / folder}" for folder in include_dirs(session)]
    done = _run("c++", "-std=c++17", "-fsyntax-only", *flags, str(main))
    assert done.returncode == 0, done.stderr

"""patches/0004 (the coreml variant), shown by CMake on ORT's real text.

The coreml_proto lines of cmake/onnxruntime_providers_coreml.cmake come from the lab's pinned
1.21.0 tarball, unpatched or patched by GNU patch, and run by CMake among stand-ins for ORT's
helpers (a static library from a C file, no protobuf generation). The provider archive beside
them is installed into the onnxruntimeTargets export set, as ORT's static builds do since
microsoft/onnxruntime#22173: without the patch CMake stops at generate time naming coreml_proto
(the failure upstream fixed after 1.23.2 in microsoft/onnxruntime#27960); with it, it generates
and the exported target carries no build-tree path.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from test_patches_real_text import hunks

from support.nix import ROOT
from support.real_libraries import lab_source_files

pytestmark = [
    pytest.mark.nix,
    pytest.mark.skipif(
        not all(shutil.which(t) for t in ("cmake", "cc", "patch")), reason="needs cmake, cc, patch"
    ),
]

COREML_CMAKE = "cmake/onnxruntime_providers_coreml.cmake"
PATCH = ROOT / "patches" / "0004-coreml-static-export-coreml-proto.patch"
NOT_EXPORTED = 'requires target "coreml_proto" that is not in any export set'
BUILD_PATH = 'Target "coreml_proto" INTERFACE_INCLUDE_DIRECTORIES property contains path'

PROBE = """cmake_minimum_required(VERSION 3.19)
project(onnxruntime C)
include(GNUInstallDirs)
set(onnxruntime_BUILD_SHARED_LIB OFF)
add_library(protobuf::libprotobuf INTERFACE IMPORTED)
set(PROTOBUF_LIB protobuf::libprotobuf)
function(onnxruntime_add_static_library name)
  add_library(${{name}} STATIC ${{CMAKE_CURRENT_SOURCE_DIR}}/stub.c)
endfunction()
function(onnxruntime_protobuf_generate)
endfunction()
{coreml_proto}
add_library(onnxruntime_providers_coreml STATIC stub.c)
target_link_libraries(onnxruntime_providers_coreml PRIVATE coreml_proto)
install(TARGETS onnxruntime_providers_coreml EXPORT ${{PROJECT_NAME}}Targets
        ARCHIVE DESTINATION ${{CMAKE_INSTALL_LIBDIR}})
install(EXPORT ${{PROJECT_NAME}}Targets NAMESPACE ${{PROJECT_NAME}}::
        DESTINATION ${{CMAKE_INSTALL_LIBDIR}}/cmake/${{PROJECT_NAME}})
"""


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return lab_source_files(tmp_path_factory.mktemp("ort-1.21.0"), COREML_CMAKE)


def _coreml_proto_lines(text: str) -> str:
    """From the coreml_proto library to the end of its install block."""
    start = text.index("onnxruntime_add_static_library(coreml_proto")
    install = text.index("install(TARGETS coreml_proto", start)
    end = text.index("endif()", install) + len("endif()")
    return text[start:end]


def _generate(tmp: Path, source: Path, patch_text: str | None) -> subprocess.CompletedProcess[str]:
    tree = tmp / "ort"
    shutil.copytree(source, tree)
    if patch_text is not None:
        done = subprocess.run(
            ["patch", "-d", str(tree), "-p1", "--batch", "--fuzz=0"],
            input=patch_text,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stdout
    probe = tmp / "probe"
    probe.mkdir()
    (probe / "stub.c").write_text("int stub(void) { return 0; }\n")
    lines = _coreml_proto_lines((tree / COREML_CMAKE).read_text())
    (probe / "CMakeLists.txt").write_text(PROBE.format(coreml_proto=lines))
    return subprocess.run(
        ["cmake", "-S", str(probe), "-B", str(probe / "build")],
        capture_output=True,
        text=True,
        check=False,
    )


def test_unpatched_the_exported_static_provider_does_not_generate(
    source: Path, tmp_path: Path
) -> None:
    done = _generate(tmp_path, source, None)
    assert done.returncode != 0
    assert NOT_EXPORTED in done.stderr


def test_exported_without_the_build_interface_it_does_not_generate(
    source: Path, tmp_path: Path
) -> None:
    """Both hunks are needed: the export alone carries the build tree's include path."""
    export_only = [h for h in hunks(PATCH) if "EXPORT" in h.text]
    assert len(export_only) == 1
    done = _generate(tmp_path, source, export_only[0].text)
    assert done.returncode != 0
    assert BUILD_PATH in done.stderr


def test_patched_it_generates_and_exports_coreml_proto(source: Path, tmp_path: Path) -> None:
    done = _generate(tmp_path, source, PATCH.read_text())
    assert done.returncode == 0, done.stderr
    exported = (tmp_path / "probe/build/CMakeFiles/Export").rglob("onnxruntimeTargets.cmake")
    text = next(exported).read_text()
    assert "add_library(onnxruntime::coreml_proto STATIC IMPORTED)" in text
    assert str(tmp_path / "probe/build") not in text

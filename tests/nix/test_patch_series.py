"""The derivation's patch-series check (pkgs/check-patches.sh, run as prePatch), run for real
with GNU patch on small source trees, and the cuda series' CMake hunk against ORT 1.23.2's
layout of cmake/onnxruntime_providers_cuda.cmake.

ORT 1.23.2's source is not reachable here. The 1.23.2 text the test uses is the part of that
file FACTS.md records and docs/siof-patches.md cites (microsoft/onnxruntime#24606, release
1.22.0, gave both branches a `set(onnxruntime_providers_cuda_all_srcs ...)`, a WIN32 `.rc`
block and an add call on `${onnxruntime_providers_cuda_all_srcs}`, split over two lines in the
internal-tests branch); 1.21.0's text is the one the series was first written against.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from test_flake import MATRIX

from support.nix import ROOT, Nix

pytestmark = pytest.mark.nix

PATCHES = ROOT / "patches"
MATRIX_SERIES = MATRIX["variants"]["cuda"]["patches"]
SERIES_0001 = PATCHES / "0001-static-providers-build-cuda-and-bridge-as-archives.patch"
CUDA_CMAKE = "cmake/onnxruntime_providers_cuda.cmake"

# The add-call region of cmake/onnxruntime_providers_cuda.cmake as each version lays it out
# (see the module docstring for where the 1.23.2 lines come from).
LAYOUTS = Path(__file__).with_name("layouts")
CUDA_1_23 = (LAYOUTS / "onnxruntime_providers_cuda-1.23.2.cmake").read_text()
CUDA_1_21 = (LAYOUTS / "onnxruntime_providers_cuda-1.21.0.cmake").read_text()


INVOCATION = "\ncheck_patch_series "


@pytest.fixture(scope="module")
def cuda_env(nix: Nix) -> dict[str, str]:
    """The cuda variant's derivation environment."""
    if shutil.which("patch") is None:
        pytest.skip("needs GNU patch")
    drv = nix.eval_json("packages.x86_64-linux.onnxruntime-cuda.drvPath")
    return nix.derivation(drv)["env"]


@pytest.fixture(scope="module")
def pre_patch(cuda_env: dict[str, str]) -> str:
    """The check function of the cuda variant's prePatch (its invocation left out: the tests
    call it on their own patches)."""
    return cuda_env["prePatch"].strip().rsplit(INVOCATION, 1)[0]


def test_pre_patch_checks_the_series_after_the_upstream_fixes(cuda_env: dict[str, str]) -> None:
    """Upstream fixes before `--` (applied as patchPhase does), the series after it (no fuzz),
    in the order of `patches`."""
    args = cuda_env["prePatch"].strip().rsplit(INVOCATION, 1)[1].split()
    patches = cuda_env["patches"].split()
    series = len(MATRIX_SERIES)
    assert args == [*patches[:-series], "--", *patches[-series:]]
    assert [Path(p).name.split("-", 1)[1] for p in args[-series:]] == MATRIX_SERIES


def _old_sides(patch: Path) -> dict[str, str]:
    """For each file a patch changes, a file holding each hunk's old lines at the line its
    header names (filler lines between): a tree the patch applies to exactly."""
    files: dict[str, list[str]] = {}
    current: list[str] = []
    for line in patch.read_text().splitlines():
        if line.startswith("+++ b/"):
            current = files.setdefault(line[6:].split()[0], [])
        elif match := re.match(r"@@ -(\d+)", line):
            start = int(match[1]) - 1
            current.extend(f"# filler {i}" for i in range(len(current), start))
        elif current is not None and line[:1] in (" ", "-") and not line.startswith("---"):
            current.append(line[1:])
        elif line == "" and files:
            current.append("")
    return {name: "\n".join(lines) + "\n" for name, lines in files.items()}


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def _check(
    pre_patch: str, tree: Path, *patches: Path, upstream: tuple[Path, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """Run the derivation's check on ``tree``: ``upstream`` as fetched fixes, ``patches`` as
    this repository's series."""
    args = " ".join([*map(str, upstream), "--", *map(str, patches)])
    env = {"PATH": os.environ["PATH"], "TMPDIR": str(tree.parent)}
    script = f"{pre_patch}\ncheck_patch_series {args}\n"
    return subprocess.run(
        ["bash", "-euc", script], cwd=tree, env=env, capture_output=True, text=True
    )


def _snapshot(tree: Path) -> dict[str, str]:
    return {str(p.relative_to(tree)): p.read_text() for p in tree.rglob("*") if p.is_file()}


def test_0001_applies_to_the_1_23_2_layout_without_fuzz(pre_patch: str, tmp_path: Path) -> None:
    files = _old_sides(SERIES_0001)
    files[CUDA_CMAKE] = "# the provider's sources\n" * 160 + CUDA_1_23 + "\n  if (MSVC)\n"
    tree = _tree(tmp_path / "src", files)
    before = _snapshot(tree)
    done = _check(pre_patch, tree, SERIES_0001)
    assert done.returncode == 0, done.stderr
    assert "every patch applies" in done.stdout
    assert _snapshot(tree) == before  # only a scratch copy was patched


def test_0001_is_refused_by_name_on_the_1_21_layout(pre_patch: str, tmp_path: Path) -> None:
    files = _old_sides(SERIES_0001)
    files[CUDA_CMAKE] = "# the provider's sources\n" * 128 + CUDA_1_21
    tree = _tree(tmp_path / "src", files)
    done = _check(pre_patch, tree, SERIES_0001)
    assert done.returncode != 0
    assert f"patch series: {SERIES_0001.name} does not apply to this source as written" in (
        done.stderr
    )
    assert "Hunk #1 FAILED" in done.stderr


def test_the_series_is_applied_in_order_and_the_first_failure_named(
    pre_patch: str, tmp_path: Path
) -> None:
    first = tmp_path / "a.patch"
    first.write_text("--- a/f.txt\n+++ b/f.txt\n@@ -1,3 +1,3 @@\n one\n-two\n+TWO\n three\n")
    second = tmp_path / "b.patch"  # context only the first patch makes
    second.write_text("--- a/f.txt\n+++ b/f.txt\n@@ -1,3 +1,3 @@\n one\n-TWO\n+2\n three\n")
    tree = _tree(tmp_path / "src", {"f.txt": "one\ntwo\nthree\n"})
    assert _check(pre_patch, tree, first, second).returncode == 0
    done = _check(pre_patch, tree, second, first)
    assert done.returncode != 0 and "b.patch does not apply" in done.stderr
    fuzzy = _tree(tmp_path / "fuzzy", {"f.txt": "one\ntwo\nthree changed\n"})
    assert "a.patch does not apply" in _check(pre_patch, fuzzy, first).stderr  # no fuzz
    # an upstream fix may need fuzz, as patchPhase allows it; the series after it may not
    fix = tmp_path / "fix.patch"
    fix.write_text("--- a/g.txt\n+++ b/g.txt\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n")
    ours = tmp_path / "ours.patch"
    ours.write_text("--- a/g.txt\n+++ b/g.txt\n@@ -2,3 +2,3 @@\n B\n-c\n+C\n d\n")
    moved = _tree(tmp_path / "moved", {"g.txt": "A\nb\nc\nd\n"})  # the fix's context moved
    assert _check(pre_patch, moved, ours, upstream=(fix,)).returncode == 0
    assert "fix.patch does not apply" in _check(pre_patch, moved, fix, ours).stderr


# The parts of ORT's CMake the CUDA hunk's added lines run among, reduced to what they touch:
# ORT's add-library helpers, FindCUDAToolkit's imported targets, and (after the hunk) what
# config_cuda_provider_shared_module gives the provider: the shared CUDA libraries and a
# module's version script.
CMAKE_PROBE = """cmake_minimum_required(VERSION 3.19)
project(probe C)
set(onnxruntime_STATIC_PROVIDERS ON)
function(onnxruntime_add_static_library name)
  add_library(${{name}} STATIC ${{ARGN}})
endfunction()
function(onnxruntime_add_shared_library_module name)
  add_library(${{name}} MODULE ${{ARGN}})
endfunction()
foreach(lib cudart cublas cublasLt curand cufft cuda_driver
            cudart_static cublas_static cublasLt_static curand_static cufft_static culibos)
  add_library(CUDA::${{lib}} INTERFACE IMPORTED)
endforeach()
set(onnxruntime_providers_cuda_src ${{CMAKE_CURRENT_SOURCE_DIR}}/provider.c)
set(onnxruntime_providers_cuda_all_srcs ${{onnxruntime_providers_cuda_src}})
{hunk}
target_link_libraries(onnxruntime_providers_cuda PRIVATE CUDA::cublasLt CUDA::cublas
  CUDA::curand CUDA::cufft CUDA::cudart CUDA::cuda_driver)
set_property(TARGET onnxruntime_providers_cuda APPEND_STRING PROPERTY LINK_FLAGS
  "-Xlinker --version-script=version_script.lds -Xlinker --gc-sections")
function(report)
  foreach(prop TYPE LINK_LIBRARIES INTERFACE_LINK_LIBRARIES LINK_FLAGS
               CUDA_RESOLVE_DEVICE_SYMBOLS COMPILE_DEFINITIONS)
    get_target_property(value onnxruntime_providers_cuda ${{prop}})
    file(APPEND ${{CMAKE_BINARY_DIR}}/report.txt "${{prop}}=${{value}}\\n")
  endforeach()
endfunction()
cmake_language(DEFER CALL report)
"""


def test_the_cuda_hunk_makes_a_static_device_linked_provider_without_version_script(
    tmp_path: Path,
) -> None:
    """0001's added CMake for the CUDA provider, run by CMake: a static archive, device-linked,
    linking the static CUDA libraries, with no version script, in the provider's namespace."""
    if shutil.which("cmake") is None or shutil.which("cc") is None:
        pytest.skip("needs cmake and cc (tools/setup.sh installs them)")
    text = SERIES_0001.read_text().split(f"+++ b/{CUDA_CMAKE}", 1)[1]
    hunk = "\n".join(line[1:] for line in text.splitlines() if line.startswith("+"))
    (tmp_path / "provider.c").write_text("int provider(void) { return 0; }\n")
    (tmp_path / "CMakeLists.txt").write_text(CMAKE_PROBE.format(hunk=hunk))
    done = subprocess.run(
        ["cmake", "-S", str(tmp_path), "-B", str(tmp_path / "build")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = dict(
        line.split("=", 1) for line in (tmp_path / "build/report.txt").read_text().splitlines()
    )
    static = "cublasLt_static;cublas_static;curand_static;cufft_static;cudart_static"
    assert report["TYPE"] == "STATIC_LIBRARY"
    assert report["LINK_LIBRARIES"] == (
        ";".join(f"CUDA::{n}" for n in static.split(";")) + ";CUDA::cuda_driver;CUDA::culibos"
    )
    assert report["INTERFACE_LINK_LIBRARIES"] == ";".join(
        f"$<LINK_ONLY:CUDA::{n}>" for n in [*static.split(";"), "cuda_driver", "culibos"]
    )
    assert report["LINK_FLAGS"] == ""
    assert report["CUDA_RESOLVE_DEVICE_SYMBOLS"] == "ON"
    assert report["COMPILE_DEFINITIONS"] == "onnxruntime=onnxruntime_static_cuda"

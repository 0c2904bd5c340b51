"""The CPU proof: bundle the PyPI onnxruntime==1.23.2 wheel, verify it, load it from the bundle.

The bundle is made with the CLI (as users and the flake call it) and once more through the API;
both must be byte-identical, the wheel's files must be unchanged, and a fresh process with
LD_LIBRARY_PATH unset must load ONNX Runtime (module and libraries) from the bundle only and run
a model.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ort_wrapper.bundle import BUNDLE_JSON_RELPATH
from ort_wrapper.bundle.write import make_bundle, verify_bundle
from ort_wrapper.elf.reader import read_elf
from ort_wrapper.files import sha256_file
from ort_wrapper.manifest import load_manifest

from helpers import cli
from support.bundles import cpu_package, tree_hashes
from support.cuda_envs import REPO, run_python

LOAD = """
import json, os, sys
import numpy as np
import ort_wrapper
info = ort_wrapper.init()
import onnxruntime
x = np.arange(6, dtype=np.float32).reshape(2, 3)
session = onnxruntime.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
(z,) = session.run(None, {"X": x, "Y": x})
print(json.dumps({
    "version": info.version,
    "origin": info.distribution.origin,
    "root": str(info.distribution.root),
    "module": onnxruntime.__file__,
    "library_paths": [str(p) for p in info.library_paths],
    "z": z.tolist(),
    "ld_library_path": os.environ.get("LD_LIBRARY_PATH"),
}))
"""


@pytest.fixture(scope="module")
def bundled(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("bundle-cpu")
    src = cpu_package()
    inputs_before = tree_hashes(src)
    out = tmp / "cpu"
    proc = cli("bundle", str(src), "--out", str(out), "--json", cwd=REPO)  # module-scoped: a child
    assert proc.returncode == 0, proc.stderr
    again = make_bundle(src, tmp / "again", quiet=True)
    return {
        "src": src,
        "out": out,
        "again": again.root,
        "cli": json.loads(proc.stdout),
        "progress": proc.stderr,
        "inputs_before": inputs_before,
        "inputs_after": tree_hashes(src),
    }


def test_bundle_is_verified_and_reports_its_figures(bundled: dict) -> None:
    cli = bundled["cli"]
    print(f"\nCPU bundle: {cli['files']} files, {cli['totalBytes']} bytes, {cli['seconds']} s")
    assert cli["variant"] == "pypi-cpu" and cli["version"] == "1.23.2"
    assert "bundle: copying" in bundled["progress"]
    assert verify_bundle(bundled["out"]) == ()
    assert set(cli["hostLibraries"]) <= {
        "libc.so.6", "libm.so.6", "libdl.so.2", "librt.so.1", "libpthread.so.0",
        "ld-linux-x86-64.so.2", "libstdc++.so.6", "libgcc_s.so.1",
    }  # fmt: skip
    # With the C++ runtime on the host, the floor is the wheel's own: GLIBC_2.27 (FACTS.md).
    assert cli["hostRequirements"]["GLIBC"] == "GLIBC_2.27"
    assert cli["hostRequirements"]["GLIBCXX"] == "GLIBCXX_3.4.22"


def test_rebundling_is_byte_identical(bundled: dict) -> None:
    first, second = tree_hashes(bundled["out"]), tree_hashes(bundled["again"])
    assert first == second
    assert len(first) > 100


def test_inputs_are_not_modified(bundled: dict) -> None:
    assert bundled["inputs_after"] == bundled["inputs_before"]


def test_manifest_lists_every_file_with_its_hash(bundled: dict) -> None:
    out: Path = bundled["out"]
    manifest = load_manifest(out)
    assert manifest.link_mode == "shared" and manifest.python_path == "python"
    listed = {f.path: f for f in manifest.files}
    on_disk = set(tree_hashes(out)) - {BUNDLE_JSON_RELPATH, "share/ort-wrapper/manifest.json"}
    assert set(listed) == on_disk
    for entry in manifest.files_of_kind("shared"):
        assert sha256_file(out / entry.path) == entry.sha256
    capi = out / "python/onnxruntime/capi/libonnxruntime.so.1.23.2"
    assert read_elf(capi).runpath == ("$ORIGIN", "$ORIGIN/../../../lib")
    assert not any(path.startswith("lib/libstdc++") for path in listed)  # host toolchain


def test_fresh_process_loads_only_from_the_bundle(bundled: dict, add_model_path: Path) -> None:
    out: Path = bundled["out"]
    env = {"LD_LIBRARY_PATH": None, "ORT_WRAPPER_DIST": str(out), "ORT_LIB_LOCATION": None}
    proc = run_python(sys.executable, ["-c", LOAD, str(add_model_path)], env=env)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["version"] == "1.23.2" and result["origin"] == "ORT_WRAPPER_DIST"
    assert Path(result["module"]).is_relative_to(out)
    assert result["library_paths"], "no ONNX Runtime library is mapped"
    assert all(Path(p).is_relative_to(out) for p in result["library_paths"])
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(np.array(result["z"], dtype=np.float32), x + x)
    assert result["ld_library_path"] is None


VERSION_C = """#include <stdio.h>
typedef struct { const void* (*GetApi)(unsigned); const char* (*GetVersionString)(void); } Base;
const Base* OrtGetApiBase(void);
int main(void) { printf("%s\\n", OrtGetApiBase()->GetVersionString()); return 0; }
"""


def test_the_bundle_links_through_its_cmake_package(bundled: dict, tmp_path: Path, run_cli) -> None:
    """The bundle's CMake package points at its core library: a CMake project links it. The
    wheel has no file named by the library's SONAME; the bundle links that name beside the core
    library, so link-flags has nothing to warn about and the program runs as built."""
    out = bundled["out"]
    manifest = load_manifest(out)
    cmake_files = [f.path for f in manifest.files if f.role == "cmake"]
    assert cmake_files == [
        "lib/cmake/onnxruntime/onnxruntimeConfig.cmake",
        "lib/cmake/onnxruntime/onnxruntimeConfigVersion.cmake",
    ]
    config = (out / cmake_files[0]).read_text()
    assert "SHARED IMPORTED" in config
    assert "${_onnxruntime_prefix}/python/onnxruntime/capi/libonnxruntime.so.1.23.2" in config
    src, build = tmp_path / "src", tmp_path / "build"
    src.mkdir()
    (src / "main.c").write_text(VERSION_C)
    (src / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.16)\nproject(v C)\n"
        "find_package(onnxruntime 1.23 CONFIG REQUIRED)\nadd_executable(v main.c)\n"
        "target_link_libraries(v PRIVATE onnxruntime::onnxruntime)\n"
    )
    for argv in (
        ["cmake", "-S", str(src), "-B", str(build), f"-DCMAKE_PREFIX_PATH={out}"],
        ["cmake", "--build", str(build)],
    ):
        done = subprocess.run(argv, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
    flags = run_cli("link-flags", str(out))
    assert flags.returncode == 0 and flags.stdout.split()[0].endswith("libonnxruntime.so.1.23.2")
    assert "loads libonnxruntime.so.1, which" not in flags.stderr, flags.stderr
    ran = subprocess.run([str(build / "v")], capture_output=True, text=True, env={})
    assert (ran.returncode, ran.stdout.strip()) == (0, "1.23.2"), ran.stderr

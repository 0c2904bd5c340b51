"""The flake, evaluated by real Nix against the stand-in nixpkgs in tests/nix/nixpkgs.

Nothing is built or fetched: every input is overridden with a local path. Expectations are
derived from pkgs/variants.json (the one variant matrix), so a derivation whose CMake flags,
patch series, outputs or platforms drift from the matrix fails here; a few literal anchors
guard the matrix itself.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ort_wrapper.consumers import consumer_env
from ort_wrapper.finalize.cmakepkg import CMAKE_DIR
from ort_wrapper.finalize.pkgconfig import PC_RELPATH
from ort_wrapper.manifest import FileEntry, FileKind, LinkMode, Manifest

from support.nix import ROOT, Nix

pytestmark = pytest.mark.nix

MATRIX = json.loads((ROOT / "pkgs" / "variants.json").read_text())


# What each package is, per system, in one evaluation: drvPath, meta, the variant, the raw
# build under a bundle and the distribution a wrapper points at.
PACKAGES = """
builtins.mapAttrs (_: builtins.mapAttrs (_: p: {
  drvPath = p.drvPath;
  out = p.outPath;
  platforms = p.meta.platforms or null;
  description = p.meta.description or "";
  variantName = p.variantName or null;
  pkgConfigModules = p.meta.pkgConfigModules or null;
  unbundled = if p ? unbundled then p.unbundled.drvPath else null;
  dist = if p ? dist then p.dist.outPath else null;
}))
"""


@pytest.fixture(scope="module")
def summary(nix: Nix) -> dict[str, Any]:
    """{system: {"packages": ..., "apps": ..., "devShells": ..., "checks": ...}}."""
    packages = nix.eval_json("packages", apply=PACKAGES.strip())
    app = "a: { inherit (a) type program; }"
    apps = nix.eval_json("apps", apply=f"builtins.mapAttrs (_: builtins.mapAttrs (_: {app}))")
    drvs = "builtins.mapAttrs (_: builtins.mapAttrs (_: d: d.drvPath))"
    shells, checks = nix.eval_json("devShells", apply=drvs), nix.eval_json("checks", apply=drvs)
    return {
        system: {
            "packages": packages[system],
            "apps": apps[system],
            "devShells": shells[system],
            "checks": checks[system],
        }
        for system in packages
    }


def _systems() -> list[str]:
    seen: list[str] = []
    for variant in MATRIX["variants"].values():
        seen += [s for s in variant["platforms"] if s not in seen]
    return seen


def _variants_on(system: str) -> dict[str, dict[str, Any]]:
    return {n: v for n, v in MATRIX["variants"].items() if system in v["platforms"]}


def _wrapper_name(variant: str) -> str:
    return "ort-wrapper" if variant == "cpu" else f"ort-wrapper-{variant}"


def _cmake_flags(env: dict[str, str]) -> dict[str, str]:
    """-DNAME:TYPE=VALUE flags as {NAME: VALUE}, booleans as ON/OFF."""
    flags = {}
    for flag in env["cmakeFlags"].split():
        match = re.fullmatch(r"-D([A-Za-z0-9_]+):(BOOL|STRING)=(.*)", flag)
        if match:
            name, kind, value = match.groups()
            flags[name] = {"TRUE": "ON", "FALSE": "OFF"}[value] if kind == "BOOL" else value
    return flags


def _expected_flags(variant: str) -> dict[str, str]:
    merged = {**MATRIX["commonCmakeFlags"], **MATRIX["variants"][variant]["cmakeFlags"]}
    return {k: ("ON" if v else "OFF") if isinstance(v, bool) else v for k, v in merged.items()}


def _ort_derivation(nix: Nix, summary: dict[str, Any], system: str, variant: str):
    """The derivation that runs CMake for a variant (under the bundle for shared variants)."""
    package = summary[system]["packages"][f"onnxruntime-{variant}"]
    return nix.derivation(package["unbundled"] or package["drvPath"])


def _store_name(path: str) -> str:
    """/nix/store/<hash>-name -> name."""
    return Path(path).name.split("-", 1)[1]


def _pname(path: str) -> str:
    """The package name of a stand-in store path: /nix/store/<hash>-numpy-2.3.4 -> numpy,
    .../<hash>-libcublas-stand-in-lib -> libcublas."""
    return re.sub(r"-(stand-in|[0-9][^-]*)(-[a-z]+)?$", "", _store_name(path))


def test_every_nix_file_parses(nix: Nix) -> None:
    files = [ROOT / "flake.nix", *sorted((ROOT / "pkgs").glob("*.nix"))]
    files += sorted((ROOT / "tests" / "nix").rglob("*.nix"))
    assert len(files) > 10
    for path in files:
        done = subprocess.run(
            ["nix-instantiate", "--parse", str(path)],
            env=nix.env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, f"{path.relative_to(ROOT)}: {done.stderr}"


def test_flake_check_no_build_passes(nix: Nix) -> None:
    done = nix.flake_cmd("flake check", "--no-build")
    assert "error" not in done.stderr.lower()


def test_flake_show_lists_every_output_the_matrix_implies(nix: Nix) -> None:
    shown = json.loads(nix.flake_cmd("flake show", "--json").stdout)
    assert set(shown["packages"]) == set(_systems()) == {"x86_64-linux", "aarch64-darwin"}
    for system in _systems():
        variants = _variants_on(system)
        expected = {f"onnxruntime-{n}" for n in variants} | {_wrapper_name(n) for n in variants}
        assert set(shown["packages"][system]) == expected | {"default"}
        assert set(shown["apps"][system]) == {_wrapper_name(n) for n in variants}
        stable = {n for n, v in variants.items() if not v["experimental"]}
        assert set(shown["devShells"][system]) == stable | {"default"}
        assert set(shown["checks"][system]) == {f"harness-{n}" for n in stable}
        assert shown["formatter"][system]["type"] == "derivation"
    # The issue's list, literally.
    linux = shown["packages"]["x86_64-linux"]
    for name in ("onnxruntime-cpu", "onnxruntime-cuda-dyn", "onnxruntime-cuda", "ort-wrapper"):
        assert name in linux
    assert "onnxruntime-coreml" in shown["packages"]["aarch64-darwin"]
    assert "onnxruntime-coreml" not in linux
    assert {"cpu", "cuda-dyn", "default"} <= set(shown["devShells"]["x86_64-linux"])
    assert "default" in shown["overlays"]
    assert "lib" in shown


def test_cmake_flags_follow_the_matrix(nix: Nix, summary: dict[str, Any]) -> None:
    for system in _systems():
        for variant in _variants_on(system):
            flags = _cmake_flags(_ort_derivation(nix, summary, system, variant)["env"])
            expected = _expected_flags(variant)
            assert {k: flags.get(k) for k in expected} == expected, (system, variant)
            cuda = MATRIX["variants"][variant]["cmakeFlags"].get("onnxruntime_USE_CUDA", False)
            assert ("onnxruntime_CUDNN_HOME" in flags) == cuda, (system, variant)
            assert flags["FETCHCONTENT_FULLY_DISCONNECTED"] == "ON"
            for dep in ("ABSEIL_CPP", "FLATBUFFERS", "ONNX", "RE2", "MP11", "SAFEINT", "DLPACK"):
                assert flags[f"FETCHCONTENT_SOURCE_DIR_{dep}"].startswith("/nix/store/")
    # Literal anchors, in case the matrix itself drifts.
    cpu = _cmake_flags(_ort_derivation(nix, summary, "x86_64-linux", "cpu")["env"])
    assert cpu["onnxruntime_BUILD_SHARED_LIB"] == "OFF"
    assert "onnxruntime_USE_CUDA" not in cpu
    dyn = _cmake_flags(_ort_derivation(nix, summary, "x86_64-linux", "cuda-dyn")["env"])
    assert dyn["onnxruntime_USE_CUDA"] == "ON"
    assert dyn["onnxruntime_BUILD_SHARED_LIB"] == "ON"
    static_cuda = _cmake_flags(_ort_derivation(nix, summary, "x86_64-linux", "cuda")["env"])
    assert static_cuda["onnxruntime_BUILD_SHARED_LIB"] == "OFF"
    assert static_cuda["onnxruntime_USE_CUDA"] == "ON"
    coreml = _cmake_flags(_ort_derivation(nix, summary, "aarch64-darwin", "coreml")["env"])
    assert coreml["onnxruntime_USE_COREML"] == "ON"
    assert coreml["FETCHCONTENT_SOURCE_DIR_COREMLTOOLS"].startswith("/nix/store/")


def test_nix_side_flags_nixpkgs_requires(nix: Nix, summary: dict[str, Any]) -> None:
    """Flags the Nix build needs whatever the matrix says (nixpkgs' onnxruntime 1.23.2 sets them):
    abseil from source must be exported (re2 from source installs targets naming it), and the
    full-protobuf configuration nixpkgs marks broken (onnx#6094) is not used."""
    for system in _systems():
        for variant in _variants_on(system):
            drv = _ort_derivation(nix, summary, system, variant)
            env = drv["env"]
            flags = _cmake_flags(env)
            assert flags["ABSL_ENABLE_INSTALL"] == "ON", (system, variant)
            assert flags.get("onnxruntime_USE_FULL_PROTOBUF", "OFF") == "OFF", (system, variant)
            assert flags["FETCHCONTENT_TRY_FIND_PACKAGE_MODE"] == "ALWAYS"
            protoc = flags["ONNX_CUSTOM_PROTOC_EXECUTABLE"]
            assert protoc.endswith("/bin/protoc")
            protobuf = protoc.removesuffix("/bin/protoc")
            assert protobuf in env["nativeBuildInputs"].split()
            patches = nix.derivation(nix.run("path-info", "--derivation", protobuf).stdout.strip())
            cuda = MATRIX["variants"][variant]["cmakeFlags"].get("onnxruntime_USE_CUDA", False)
            # CUDA builds: nixpkgs' protobuf with the nvcc workaround, as nixpkgs' onnxruntime.
            assert ("nvcc-bug" in patches["env"].get("patches", "")) == cuda, (system, variant)
            assert (env.get("NIX_LDFLAGS") == "-z,noexecstack") == system.endswith("-linux")
            if cuda:
                assert "FETCHCONTENT_SOURCE_DIR_CUDNN_FRONTEND" not in flags
                assert "find_package(cudnn_frontend REQUIRED)" in env["postPatch"]
                inputs = {_pname(p) for p in env["buildInputs"].split()}
                assert {"cudnn-frontend", "cuda_nvrtc", "libnvjitlink"} <= inputs
                # The static variant links CUDA statically: the static outputs (lib.getStatic).
                static = {
                    _store_name(p).removesuffix("-stand-in-static")
                    for p in env["buildInputs"].split()
                    if p.endswith("-static")
                }
                expected = {"cuda_cudart", "libcublas", "libcurand", "libcufft"}
                assert static == (expected if variant == "cuda" else set()), (system, variant)
                assert "remove-references-to -t" in env["postFixup"]
                # nvcc's programs (its bin output, lib.getBin) must not be in the closure.
                (nvcc,) = env["disallowedRequisites"].split()
                assert _store_name(nvcc) == "cuda_nvcc-stand-in-bin"
            else:
                assert not env.get("disallowedRequisites")
    assert "onnxruntime_USE_FULL_PROTOBUF" not in MATRIX["commonCmakeFlags"]


def test_coremltools_gets_the_patch_ort_would_apply(nix: Nix, summary: dict[str, Any]) -> None:
    """FETCHCONTENT_SOURCE_DIR_COREMLTOOLS skips ORT's PATCH_COMMAND: the source given must
    already carry ORT's crossplatformbuild.patch, from the ORT source being built, applied
    with ORT's own patch flags."""
    drv = _ort_derivation(nix, summary, "aarch64-darwin", "coreml")
    src = drv["env"]["src"]
    tools = _cmake_flags(drv["env"])["FETCHCONTENT_SOURCE_DIR_COREMLTOOLS"]
    patched = nix.derivation(nix.run("path-info", "--derivation", tools).stdout.strip())
    command = " ".join(patched["env"]["postPatch"].split())
    assert command == (
        f"patch --binary --ignore-whitespace -p1 < "
        f"{src}/cmake/patches/coremltools/crossplatformbuild.patch"
    )
    fetched = nix.derivation(
        nix.run("path-info", "--derivation", patched["env"]["src"]).stdout.strip()
    )
    assert fetched["env"]["urls"] == "github:apple/coremltools/7.1"


def test_the_coremltools_patch_step_applies_ort_s_patch(
    nix: Nix, summary: dict[str, Any], tmp_path: Path
) -> None:
    """The applyPatches step run for real, with the ORT source's store path pointing at a tree
    holding a patch where ORT keeps crossplatformbuild.patch."""
    drv = _ort_derivation(nix, summary, "aarch64-darwin", "coreml")
    tools = _cmake_flags(drv["env"])["FETCHCONTENT_SOURCE_DIR_COREMLTOOLS"]
    patched = nix.derivation(nix.run("path-info", "--derivation", tools).stdout.strip())
    ort = tmp_path / "ort"
    (ort / "cmake/patches/coremltools").mkdir(parents=True)
    (ort / "cmake/patches/coremltools/crossplatformbuild.patch").write_bytes(
        b"--- a/mlmodel/src/Utils.hpp\r\n+++ b/mlmodel/src/Utils.hpp\r\n"
        b"@@ -1,1 +1,2 @@\r\n #pragma once\r\n+#include <cstdint>\r\n"
    )
    source = tmp_path / "coremltools"
    (source / "mlmodel/src").mkdir(parents=True)
    (source / "mlmodel/src/Utils.hpp").write_bytes(b"#pragma once\r\n")
    script = patched["env"]["postPatch"].replace(drv["env"]["src"], str(ort))
    subprocess.run(["bash", "-euc", script], cwd=source, check=True, capture_output=True)
    assert (source / "mlmodel/src/Utils.hpp").read_bytes() == (
        b"#pragma once\r\n#include <cstdint>\r\n"
    )


def test_warnings_are_not_errors_on_linux(nix: Nix, summary: dict[str, Any]) -> None:
    """ORT builds with -Werror; the seed project's working Linux builds (and nixpkgs' CUDA
    builds) pass --compile-no-warning-as-error."""
    for system in _systems():
        for variant in _variants_on(system):
            flags = _ort_derivation(nix, summary, system, variant)["env"]["cmakeFlags"].split()
            cuda = MATRIX["variants"][variant]["cmakeFlags"].get("onnxruntime_USE_CUDA", False)
            expected = system.endswith("-linux") or cuda
            assert ("--compile-no-warning-as-error" in flags) == expected, (system, variant)


def test_patch_series_follows_the_matrix(nix: Nix, summary: dict[str, Any]) -> None:
    listed = (ROOT / "patches" / "README.md").read_text()
    for system in _systems():
        for variant, spec in _variants_on(system).items():
            env = _ort_derivation(nix, summary, system, variant)["env"]
            names = [_store_name(p) for p in env["patches"].split()]
            # Upstream fixes first (fetched), then this repository's series, in matrix order.
            local = [n for n in names if not n.startswith("ort-upstream-")]
            assert local == spec["patches"], (system, variant)
            for name in spec["patches"]:
                assert (ROOT / "patches" / name).is_file(), name
                assert name in listed, f"patches/README.md does not list {name}"
    # The static CUDA variant carries the SIOF series; the others do not.
    assert MATRIX["variants"]["cuda"]["patches"]
    assert not set(MATRIX["variants"]["cuda"]["patches"]) & set(
        MATRIX["variants"]["cpu"]["patches"]
    )


def test_every_patch_file_is_in_some_series_and_has_a_header() -> None:
    used = {p for v in MATRIX["variants"].values() for p in v["patches"]}
    files = {p.name for p in (ROOT / "patches").glob("*.patch")}
    assert files == used
    for name in files:
        text = (ROOT / "patches" / name).read_text()
        header = text.split("\n--- a/", 1)[0]
        for field in ("What:", "Why:", "Variants:", "Verified:"):
            assert field in header, f"{name}: header lacks {field!r}"
        assert re.search(r"^@@ -\d+(,\d+)? \+\d+(,\d+)? @@", text, re.M), name
        _check_hunk_counts(name, text)


def _check_hunk_counts(name: str, text: str) -> None:
    """Every hunk's body has as many old/new lines as its @@ header says (what `patch` checks
    before it applies anything: a hand-edited patch with wrong counts is 'malformed')."""
    lines = text.splitlines()
    hunks = 0
    i = 0
    while i < len(lines):
        match = re.match(r"@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@", lines[i])
        i += 1
        if not match:
            continue
        hunks += 1
        old = int(match.group(1) or 1)
        new = int(match.group(2) or 1)
        while old > 0 or new > 0:
            assert i < len(lines), f"{name}: hunk {hunks} ends early"
            line = lines[i]
            i += 1
            if line.startswith("\\"):  # "\ No newline at end of file"
                continue
            kind = line[:1] or " "  # an empty context line may lose its leading space
            assert kind in " -+", f"{name}: hunk {hunks}: unexpected line {line!r}"
            old -= kind in " -"
            new -= kind in " +"
            assert old >= 0 and new >= 0, f"{name}: hunk {hunks}: more lines than its header"
        if (
            i < len(lines)
            and lines[i][:1] in ("-", "+")
            and not lines[i].startswith(("---", "+++"))
        ):
            raise AssertionError(f"{name}: hunk {hunks}: more lines than its header")
    assert hunks, name


def test_hunk_count_check_catches_a_miscounted_hunk() -> None:
    good = "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n"
    _check_hunk_counts("good", good)
    with pytest.raises(AssertionError, match="more lines"):
        _check_hunk_counts("bad", good.replace("-1,2 +1,2", "-1,1 +1,1"))
    with pytest.raises(AssertionError, match="ends early"):
        _check_hunk_counts("bad", good.replace("-1,2 +1,2", "-1,3 +1,3"))


def test_source_is_pinned_by_the_matrix_hash(nix: Nix, summary: dict[str, Any]) -> None:
    ort = MATRIX["ort"]
    algo, b64 = ort["hash"].split("-", 1)
    for system in _systems():
        for variant in _variants_on(system):
            drv = _ort_derivation(nix, summary, system, variant)
            assert drv["env"]["version"] == ort["version"]
            src = nix.eval_json(
                f"packages.{system}.onnxruntime-{variant}",
                apply="p: (p.unbundled or p).src.drvPath",
            )
            fetched = nix.derivation(src)
            # The tag is derived from the version in Nix (variants.json has no `rev`).
            assert "rev" not in ort
            assert fetched["env"]["urls"].endswith(
                f"{ort['owner']}/{ort['repo']}/v{ort['version']}"
            )
            out = fetched["outputs"]["out"]
            assert out["hashAlgo"] == f"r:{algo}"
            assert out["hash"] == base64.b64decode(b64).hex()


def test_python_variants_build_the_module_with_its_inputs(
    nix: Nix, summary: dict[str, Any]
) -> None:
    seen = set()
    for system in _systems():
        for variant in _variants_on(system):
            env = _ort_derivation(nix, summary, system, variant)["env"]
            python = _expected_flags(variant).get("onnxruntime_ENABLE_PYTHON") == "ON"
            assert _cmake_flags(env)["onnxruntime_ENABLE_PYTHON"] == ("ON" if python else "OFF")
            names = {_pname(p) for p in env["buildInputs"].split()}
            assert {"pybind11", "numpy"} <= names if python else not {"pybind11"} & names
            seen.add(python)
    assert seen == {True, False}  # the matrix has both kinds (cuda-dyn makes the module)


def test_finalize_is_the_last_fixup_step(nix: Nix, summary: dict[str, Any]) -> None:
    """finalize (and so the manifest's sha256 values) comes after everything that edits the
    staged install in $out: the fixup phase's strip and RPATH shrinking (it runs in
    postFixup), and for CUDA after remove-references-to; its new directory then replaces $out
    and nothing runs after that. tests/nix/test_fixup_phase.py runs the hooks for real."""
    for system in _systems():
        for variant in _variants_on(system):
            env = _ort_derivation(nix, summary, system, variant)["env"]
            assert "ort-wrapper" not in env.get("postInstall", "")
            assert not env.get("dontStrip")
            fixup = env["postFixup"]
            after = fixup.split("ort-wrapper finalize", 1)[1]
            command = " ".join(after.replace("\\\n", " ").split())
            assert command.startswith(
                f'"$out" --out "$ortDist" --build-dir "$ortBuildDir" --variant {variant} '
                f"--prune --source-hash {MATRIX['ort']['hash']} "
            )
            assert command.endswith('rm -rf "$out" mv "$ortDist" "$out"')
            assert fixup.rfind("remove-references-to") < fixup.index("ort-wrapper finalize")
            recorded = re.findall(r"--patches-applied (\S+)", command)
            applied = [_store_name(p) for p in env["patches"].split()]
            assert recorded == applied, (system, variant)
            tools = [_store_name(p) for p in env["nativeBuildInputs"].split()]
            assert any(t.startswith("ort-wrapper-") for t in tools), tools


def test_outputs_meta_and_wrappers(nix: Nix, summary: dict[str, Any]) -> None:
    for system in _systems():
        packages = summary[system]["packages"]
        for variant, spec in _variants_on(system).items():
            dist = packages[f"onnxruntime-{variant}"]
            assert dist["platforms"] == spec["platforms"]
            assert dist["variantName"] == variant
            assert dist["pkgConfigModules"] == [Path(PC_RELPATH).stem]  # bundles too
            assert ("EXPERIMENTAL" in dist["description"]) == spec["experimental"]
            assert nix.derivation(dist["drvPath"])["outputs"].keys() == {"out"}
            wrapper = packages[_wrapper_name(variant)]
            assert wrapper["dist"] == dist["out"]
            env = nix.derivation(wrapper["drvPath"])["env"]
            assert f"ORT_WRAPPER_DIST {dist['out']}" in env["makeWrapperArgs"]
        default = "coreml" if system.endswith("darwin") else "cpu"
        assert packages["default"]["drvPath"] == packages[f"onnxruntime-{default}"]["drvPath"]


def test_shared_variants_are_bundled_with_the_packaging_step(
    nix: Nix, summary: dict[str, Any]
) -> None:
    for system in _systems():
        for variant, spec in _variants_on(system).items():
            package = summary[system]["packages"][f"onnxruntime-{variant}"]
            assert (package["unbundled"] is not None) == (spec["linkMode"] == "shared")
            if package["unbundled"] is None:
                continue
            unbundled_out = nix.derivation(package["unbundled"])["outputs"]["out"]["path"]
            command = nix.derivation(package["drvPath"])["env"]["buildCommand"]
            assert f'ort-wrapper bundle {unbundled_out} --out "$NIX_BUILD_TOP/bundle"' in command
            assert 'mv "$NIX_BUILD_TOP/bundle" "$out"' in command
            cuda = spec["cmakeFlags"].get("onnxruntime_USE_CUDA", False)
            dirs = re.findall(r"--search-dir (\S+)", command)
            names = {_pname(d.removesuffix("/lib")) for d in dirs}
            # The libraries are in each package's lib output (lib.getLib), not in out.
            assert all(_store_name(d.removesuffix("/lib")).endswith("-lib") for d in dirs)
            assert names == (_cuda_runtime_attrs() if cuda else set()), (system, variant)
            drv = nix.derivation(package["drvPath"])
            tools = {_pname(p) for p in drv["env"]["nativeBuildInputs"].split()}
            # runCommand has no fixup phase, and nothing may edit the files after the bundle
            # step's manifest: the driver directory is in the RUNPATHs the step itself writes.
            assert not {"autoAddDriverRunpath", "add-driver-runpath"} & tools
            prefix = "--runpath-prefix /run/opengl-driver/lib"
            assert (prefix in command) == cuda, (system, variant)
            assert command.rstrip().endswith('mv "$NIX_BUILD_TOP/bundle" "$out"')
    # Literal anchor, in case sonames.json and companions.json drift together.
    assert _cuda_runtime_attrs() >= {
        "cuda_cudart",
        "libcublas",
        "cudnn",
        "cuda_nvrtc",
        "libnvjitlink",
    }


def _cuda_runtime_attrs() -> set[str]:
    """cudaPackages attributes the bundle must search: what the flake's CUDA package carries
    (python/ort_wrapper/data/sonames.json "flake") and what those dlopen (companions.json)."""
    data = ROOT / "python" / "ort_wrapper"
    libraries = json.loads((data / "data" / "sonames.json").read_text())["libraries"]
    companions = json.loads((data / "bundle" / "companions.json").read_text())["companions"]
    todo = [n for n, v in libraries.items() if v.get("flake") == "onnxruntime-cuda-dyn"]
    seen: set[str] = set()
    while todo:
        soname = todo.pop()
        if soname not in seen:
            seen.add(soname)
            todo += companions.get(soname, {}).get("sonames", [])
    return {libraries[n]["nix"].removeprefix("cudaPackages.") for n in seen}


def test_apps_run_the_harness_without_ld_library_path(nix: Nix, summary: dict[str, Any]) -> None:
    for system in _systems():
        packages = summary[system]["packages"]
        for variant in _variants_on(system):
            app = summary[system]["apps"][_wrapper_name(variant)]
            assert app["type"] == "app"
            assert app["program"].endswith(f"/bin/ort-wrapper-check-{variant}")
            script = nix.derivation(
                nix.eval_json(
                    f"apps.{system}.{_wrapper_name(variant)}",
                    apply="a: builtins.unsafeDiscardStringContext "
                    "(builtins.head (builtins.attrNames "
                    "(builtins.getContext a.program)))",
                )
            )["env"]["text"]
            dist = packages[f"onnxruntime-{variant}"]["out"]
            assert f"ort-wrapper check --dist {dist}" in script
            assert "LD_LIBRARY_PATH" not in script


def _consumer_env(root: Path, mode: LinkMode, dist: str) -> dict[str, str]:
    """``consumer_env`` of a distribution of ``mode`` laid out as finalize lays it out (the
    files its rules read), with ``root`` written as ``dist``."""
    core = "lib/libonnxruntime.a" if mode == LinkMode.STATIC else "lib/libonnxruntime.so.1.23.2"
    for rel in (core, PC_RELPATH, f"{CMAKE_DIR}/onnxruntimeConfig.cmake"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("")
    if mode == LinkMode.SHARED:
        (root / "lib/libonnxruntime.so").symlink_to("libonnxruntime.so.1.23.2")
    kind = FileKind.ARCHIVE if mode == LinkMode.STATIC else FileKind.SHARED
    Manifest("1.23.2", "v", mode, (), files=(FileEntry(core, kind, "0" * 64, "core"),)).write(root)
    variables = consumer_env(root).variables
    return {k: v.replace(str(root.absolute()), dist) for k, v in variables}


def test_dev_shells_point_at_their_variant(
    nix: Nix, summary: dict[str, Any], tmp_path: Path
) -> None:
    for system in _systems():
        packages = summary[system]["packages"]
        shells = summary[system]["devShells"]
        for name, drv_path in shells.items():
            variant = name if name != "default" else ("coreml" if "darwin" in system else "cpu")
            env = nix.derivation(drv_path)["env"]
            dist = packages[f"onnxruntime-{variant}"]["out"]
            # exactly what `ort-wrapper env` prints for a distribution laid out as finalize
            # lays out this variant
            mode = LinkMode(MATRIX["variants"][variant]["linkMode"])
            expected = _consumer_env(tmp_path / f"{system}-{name}", mode, dist)
            assert {k: env[k] for k in expected if k in env} == expected
            assert set(expected) <= set(env)
            assert CMAKE_DIR == "lib/cmake/onnxruntime"  # one of CMake's <prefix>/ search paths
            tools = {_pname(p) for p in env["nativeBuildInputs"].split()}
            assert {"cmake", "ninja", "patchelf", "pkg-config"} <= tools
            # nixpkgs' auditwheel is Linux-only (meta.platforms = linux).
            assert ("auditwheel" in tools) == system.endswith("-linux"), (system, name)
            hook = env["shellHook"]
            assert "git rev-parse --show-toplevel" in hook


def test_dev_shell_finds_the_checkout_root_from_a_subdirectory(
    nix: Nix, summary: dict[str, Any], tmp_path: Path
) -> None:
    """The shellHook, run from python/ort_wrapper of a tree that is not a git checkout."""
    hook = nix.derivation(summary["x86_64-linux"]["devShells"]["default"])["env"]["shellHook"]
    tree = tmp_path / "checkout"
    (tree / "pkgs").mkdir(parents=True)
    (tree / "pkgs" / "variants.json").write_text("{}")
    sub = tree / "python" / "ort_wrapper"
    sub.mkdir(parents=True)
    done = subprocess.run(
        ["bash", "-c", hook + '\nprintf %s "$ORT_BUILDER_ROOT"'],
        cwd=sub,
        env={"PATH": os.environ["PATH"], "GIT_CEILING_DIRECTORIES": str(tmp_path)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout == str(tree)


def test_the_flake_reads_the_matrix_rather_than_a_copy(nix: Nix, tmp_path: Path) -> None:
    """Change variants.json in a copy of the flake: the evaluated flags change with it."""
    changed = json.loads(json.dumps(MATRIX))
    changed["variants"]["cpu"]["cmakeFlags"]["onnxruntime_PROBE_FLAG"] = "probe"
    copy = Nix(tmp_path)
    (copy.flake / "pkgs" / "variants.json").write_text(json.dumps(changed))
    drv = copy.eval_json("packages.x86_64-linux.onnxruntime-cpu.drvPath")
    flags = _cmake_flags(copy.derivation(drv)["env"])
    assert flags["onnxruntime_PROBE_FLAG"] == "probe"


def test_a_variant_is_refused_on_a_platform_the_matrix_leaves_out(nix: Nix) -> None:
    done = nix.run(
        "eval",
        "--raw",
        "--impure",
        "--expr",
        f'let f = builtins.getFlake "path:{nix.flake}"; '
        f'pkgs = import {nix.stand_in} {{ system = "x86_64-linux"; }}; '
        'in (f.lib.mkOnnxruntime pkgs "coreml").drvPath',
        check=False,
    )
    assert done.returncode != 0
    assert "not available on the requested hostPlatform" in done.stderr


def test_flake_lock_pins_nixpkgs_in_the_lock_format() -> None:
    """The format only (a github node, 40-hex rev, sha256 narHash): whether that revision and
    hash are real needs the network (`nix flake metadata` in .github/workflows/nix.yml)."""
    lock = json.loads((ROOT / "flake.lock").read_text())
    assert lock["version"] == 7
    root = lock["nodes"][lock["root"]]
    assert set(root["inputs"]) == {"nixpkgs"}
    node = lock["nodes"][root["inputs"]["nixpkgs"]]
    locked = node["locked"]
    assert locked["type"] == "github"
    assert (locked["owner"], locked["repo"]) == ("NixOS", "nixpkgs")
    assert re.fullmatch(r"[0-9a-f]{40}", locked["rev"])
    assert re.fullmatch(r"sha256-[A-Za-z0-9+/]{43}=", locked["narHash"])
    assert len(base64.b64decode(locked["narHash"].removeprefix("sha256-"))) == 32
    assert isinstance(locked["lastModified"], int)
    assert node["original"]["type"] == "github"


def test_workflow_checks_the_flake_and_builds_cpu() -> None:
    workflows = list((ROOT / ".github" / "workflows").glob("*.yml"))
    text = "\n".join(p.read_text() for p in workflows)
    assert "cachix/install-nix-action" in text
    assert "nix flake check" in text
    assert re.search(r"nix build .*\.#onnxruntime-cpu", text)


def test_gpu_variants_check_linking_only_and_apps_run_everything(
    nix: Nix, summary: dict[str, Any]
) -> None:
    """A build sandbox has no GPU: `checks` of a CUDA variant runs the linking section alone
    (the providers section would fail its claimed CUDA provider); the app runs every section."""
    for system in _systems():
        for name, drv_path in summary[system]["checks"].items():
            variant = name.removeprefix("harness-")
            command = nix.derivation(drv_path)["env"]["buildCommand"]
            cuda = MATRIX["variants"][variant]["cmakeFlags"].get("onnxruntime_USE_CUDA", False)
            dist = summary[system]["packages"][f"onnxruntime-{variant}"]["out"]
            suffix = " --only linking" if cuda else ""
            assert f'ort-wrapper check --dist {dist}{suffix} > "$out"' in command, (system, name)
    assert "harness-cuda-dyn" in summary["x86_64-linux"]["checks"]


def test_checks_and_apps_carry_a_compiler(nix: Nix, summary: dict[str, Any]) -> None:
    """The linking section compiles a C program against a static distribution: the check's
    sandbox needs stdenv's compiler (nixpkgs' runCommand has none), the app brings its own."""
    for system in _systems():
        compiler = "clang-wrapper" if system.endswith("darwin") else "gcc-wrapper"
        for name, drv_path in summary[system]["checks"].items():
            closure = json.loads(nix.run("show-derivation", "-r", drv_path).stdout)
            stdenv = closure[drv_path]["env"]["stdenv"]
            (marker,) = (d for d in closure.values() if d["outputs"]["out"]["path"] == stdenv)
            assert _pname(marker["env"]["cc"]) == compiler, (system, name)
        for variant in _variants_on(system):
            script = nix.eval_json(
                f"apps.{system}.{_wrapper_name(variant)}",
                apply="a: builtins.unsafeDiscardStringContext "
                "(builtins.head (builtins.attrNames (builtins.getContext a.program)))",
            )
            inputs = nix.derivation(script)["env"]["runtimeInputs"].split()
            assert compiler in {_pname(p) for p in inputs}, (system, variant)


def test_the_darwin_tool_carries_llvm_for_mach_o_archives(
    nix: Nix, summary: dict[str, Any]
) -> None:
    """finalize merges and reads darwin's archives with llvm-ar and llvm-nm: the tool the
    ORT derivation runs has them on its PATH there (and needs none on Linux)."""
    for system in _systems():
        for variant in _variants_on(system):
            env = _ort_derivation(nix, summary, system, variant)["env"]
            (tool,) = (p for p in env["nativeBuildInputs"].split() if "-ort-wrapper-" in p)
            wrapper = nix.derivation(nix.run("path-info", "--derivation", tool).stdout.strip())
            path = wrapper["env"]["makeWrapperArgs"].split()[3].split(":")
            assert ("llvm" in {_pname(p.removesuffix("/bin")) for p in path}) == (
                system.endswith("darwin")
            ), (system, variant)


def test_build_steps_use_the_lean_tool(nix: Nix, summary: dict[str, Any]) -> None:
    """The ORT derivations run finalize/bundle with a tool that brings no ONNX Runtime or ONNX
    onto PYTHONPATH; the wrappers (apps, checks) carry the full package."""
    heavy = {"onnxruntime", "onnx", "ml-dtypes"}

    def deps(drv_path: str) -> set[str]:
        env = nix.derivation(drv_path)["env"]
        return {_pname(p) for p in env["propagatedBuildInputs"].split()}

    for system in _systems():
        linux = system.endswith("-linux")
        for variant in _variants_on(system):
            env = _ort_derivation(nix, summary, system, variant)["env"]
            tool = [p for p in env["nativeBuildInputs"].split() if "-ort-wrapper-" in p]
            assert len(tool) == 1, tool
            tool_deps = deps(nix.run("path-info", "--derivation", tool[0]).stdout.strip())
            assert not tool_deps & heavy, (system, variant)
            assert {"numpy", "pyelftools"} <= tool_deps
            assert ("auditwheel" in tool_deps) == linux
            wrapper_deps = deps(summary[system]["packages"][_wrapper_name(variant)]["drvPath"])
            assert heavy <= wrapper_deps
            assert ("auditwheel" in wrapper_deps) == linux
            remove = nix.derivation(summary[system]["packages"][_wrapper_name(variant)]["drvPath"])
            assert ("auditwheel" in remove["env"]["pythonRemoveDeps"]) == (not linux)


def test_unfree_cuda_only_and_the_bundle_says_what_it_carries(
    nix: Nix, summary: dict[str, Any]
) -> None:
    # The flake's predicate, as the flake exports it: CUDA's and cuDNN's licenses, nothing
    # else unfree.
    verdicts = nix.eval_json(
        "lib.allowUnfreePredicate",
        apply=(
            "p: map (l: p { meta.license = l; }) ["
            ' { shortName = "CUDA EULA"; free = false; }'
            ' [ { shortName = "cuDNN EULA"; free = false; } { shortName = "mit"; } ]'
            ' { shortName = "unfree"; free = false; }'
            ' [ { shortName = "CUDA EULA"; free = false; } { shortName = "x"; free = false; } ]'
            ' { shortName = "mit"; } ]'
        ),
    )
    assert verdicts == [True, True, False, False, True]
    # The flake's nixpkgs takes it: the CUDA variants evaluate (CUDA is unfree) ...
    assert summary["x86_64-linux"]["packages"]["onnxruntime-cuda-dyn"]["drvPath"]
    # ... and an unfree dependency that is not CUDA is refused (no allowUnfree = true).
    unfree_protobuf = nix.tmp / "nixpkgs-unfree-protobuf"
    if not unfree_protobuf.exists():
        shutil.copytree(nix.stand_in, unfree_protobuf)
        default = unfree_protobuf / "default.nix"
        text = default.read_text()
        line = 'protobuf = standIn "protobuf" { meta.mainProgram = "protoc"; };'
        assert line in text  # the stand-in's protobuf, made unfree below
        default.write_text(
            text.replace(line, line.replace("};", "meta.license = lib.licenses.unfree; };"))
        )
    refused = nix.run(
        "eval",
        "--raw",
        f"path:{nix.flake}#packages.x86_64-linux.onnxruntime-cpu.drvPath",
        "--override-input",
        "nixpkgs",
        f"path:{unfree_protobuf}",
        check=False,
    )
    assert refused.returncode != 0, refused.stdout
    assert "protobuf" in refused.stderr and "unfree license" in refused.stderr, refused.stderr
    licenses = nix.eval_json(
        "packages.x86_64-linux.onnxruntime-cuda-dyn.meta.license",
        apply="ls: map (l: l.shortName) ls",
    )
    assert set(licenses) == {"mit", "CUDA EULA", "cuDNN EULA"}
    assert (
        nix.eval_json("packages.x86_64-linux.onnxruntime-cpu.meta.license", apply="l: l.shortName")
        == "mit"
    )


def _cuda_variant_with(
    nix: Nix, config: str, without_pkgs_cuda: bool = False
) -> subprocess.CompletedProcess[str]:
    """``lib.mkOnnxruntime pkgs "cuda"`` with the stand-in imported with ``config`` (and its
    pkgsCuda taken away)."""
    pkgs = f'(import {nix.stand_in} {{ system = "x86_64-linux"; config = {config}; }})'
    if without_pkgs_cuda:
        pkgs = f'(builtins.removeAttrs {pkgs} [ "pkgsCuda" ])'
    expr = f'((import {nix.flake}/pkgs {{ pkgs = {pkgs}; }}).mkOnnxruntime "cuda").drvPath'
    return nix.run("eval", "--json", "--impure", "--expr", expr, check=False)


def test_cuda_variants_take_nixpkgs_cuda_packages_with_cuda_support(nix: Nix) -> None:
    """nixpkgs marks its CUDA redistributables broken unless config.cudaSupport: a package set
    without it gives the CUDA variants its pkgsCuda; one with it is used as it is; one with
    neither is refused at evaluation, saying why."""
    unfree = "allowUnfree = true;"
    plain = _cuda_variant_with(nix, f"{{ {unfree} }}")
    on = _cuda_variant_with(nix, f"{{ {unfree} cudaSupport = true; }}")
    assert plain.returncode == 0, plain.stderr
    assert on.returncode == 0, on.stderr
    assert json.loads(plain.stdout) == json.loads(on.stdout)
    neither = _cuda_variant_with(nix, f"{{ {unfree} }}", without_pkgs_cuda=True)
    assert neither.returncode != 0
    assert "has no pkgsCuda to take them from" in neither.stderr
    assert _cuda_variant_with(nix, f"{{ {unfree} cudaSupport = true; }}", True).returncode == 0

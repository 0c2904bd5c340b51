"""lib.mkReducedOnnxruntime: a static variant reduced to the operators of given models.

Evaluated by real Nix against the stand-in nixpkgs, with real .onnx files made here: the
operator-config derivation runs `ort-wrapper reduce-config` on the models' store copies and
the full build, and the reduced derivation applies it with ONNX Runtime's own mechanism. The
reduce step itself is run for real with ORT's reduce_op_kernels.py (from the 1.21.0 source the
lab pins; 1.23.2's source is not reachable here) in the stand-in's model of nixpkgs'
cmakeConfigurePhase, with CMake checking that ORT's own substitute_op_reduction_srcs finds the
reduced files.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
from test_flake import _cmake_flags, _pname, _store_name
from test_stand_in import _stdenv_of

from support.nix import ROOT, STAND_IN, Nix

pytestmark = pytest.mark.nix

LINUX = "x86_64-linux"
REDUCED_FLAG = "onnxruntime_REDUCED_OPS_BUILD"
README = ROOT / "README.md"


def _save(model: Any, path: Path) -> Path:
    import onnx

    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two small real models of different kinds: an elementwise sum, a convolution."""
    from onnx import TensorProto, helper

    tmp = tmp_path_factory.mktemp("models")
    f32 = TensorProto.FLOAT
    add = helper.make_graph(
        [helper.make_node("Add", ["x", "y"], ["z"])],
        "add",
        [helper.make_tensor_value_info(n, f32, [2]) for n in ("x", "y")],
        [helper.make_tensor_value_info("z", f32, [2])],
    )
    conv = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w"], ["c"]),
            helper.make_node("Relu", ["c"], ["y"]),
        ],
        "conv_relu",
        [helper.make_tensor_value_info("x", f32, [1, 1, 4, 4])],
        [helper.make_tensor_value_info("y", f32, [1, 1, 2, 2])],
        [helper.make_tensor("w", f32, [1, 1, 3, 3], [0.5] * 9)],
    )
    opset = [helper.make_opsetid("", 17)]
    return [
        _save(helper.make_model(add, opset_imports=opset), tmp / "add.onnx"),
        _save(helper.make_model(conv, opset_imports=opset), tmp / "conv_relu.onnx"),
    ]


def _expr(nix: Nix, body: str, system: str = LINUX) -> str:
    return (
        f'let f = builtins.getFlake "path:{nix.flake}"; '
        f'pkgs = import {nix.stand_in} {{ system = "{system}"; }}; '
        f"in {body}"
    )


def _eval(nix: Nix, body: str, system: str = LINUX) -> Any:
    done = nix.run("eval", "--json", "--impure", "--expr", _expr(nix, body, system))
    return json.loads(done.stdout)


def _refused(nix: Nix, body: str, system: str = LINUX) -> str:
    done = nix.run("eval", "--raw", "--impure", "--expr", _expr(nix, body, system), check=False)
    assert done.returncode != 0, f"evaluated: {body}\n{done.stdout}"
    return done.stderr


def _nix_list(paths: list[Path]) -> str:
    return "[ " + " ".join(str(p) for p in paths) + " ]"


def _info(reduced: str) -> str:
    """What the tests read of a reduced derivation and of the full build of its variant."""
    return (
        f"let r = {reduced}; full = f.lib.mkOnnxruntime pkgs r.variantName; in {{ "
        "drv = r.drvPath; name = r.name; config = r.operatorsConfig; "
        "full = full.drvPath; fullOut = full.outPath; fullName = full.name; }"
    )


@pytest.fixture(scope="module")
def from_models(nix: Nix, models: list[Path]) -> dict[str, Any]:
    reduced = f'f.lib.mkReducedOnnxruntime pkgs "cpu" {{ forModels = {_nix_list(models)}; }}'
    info = _eval(nix, _info(reduced))
    info["env"] = nix.derivation(info["drv"])["env"]
    return info


def _drv_of(nix: Nix, out_path: str) -> str:
    return nix.run("path-info", "--derivation", out_path).stdout.strip()


def _store_bytes(nix: Nix, path: str) -> bytes:
    done = subprocess.run(
        ["nix", "store", "cat", path], env=nix.env, capture_output=True, check=True
    )
    return done.stdout


def _words(script: str) -> list[str]:
    return shlex.split(script.replace("\\\n", " "))


def _after(words: list[str], word: str) -> str:
    return words[words.index(word) + 1]


def test_the_config_derivation_runs_reduce_config_on_the_models_and_the_full_build(
    nix: Nix, from_models: dict[str, Any], models: list[Path]
) -> None:
    config_drv = _drv_of(nix, from_models["config"])
    reduced = nix.derivation(from_models["drv"])
    assert config_drv in reduced["inputDrvs"]
    config = nix.derivation(config_drv)
    # The models are copied into the store and are inputs of the config derivation, in order.
    words = _words(config["env"]["buildCommand"])
    start = words.index("reduce-config") + 1
    given = words[start : start + len(models)]
    assert [_store_name(p) for p in given] == [m.name for m in models]
    assert set(given) <= set(config["inputSrcs"])
    for store_path, model in zip(given, models, strict=True):
        assert _store_bytes(nix, store_path) == model.read_bytes()
    # With --dist, the full build of the same variant (the optimizers' kernels).
    assert _after(words, "--dist") == from_models["fullOut"]
    assert from_models["full"] in config["inputDrvs"]
    assert "--out" in words and words[-1] == "$out"
    # Running the models links a C program against static archives: stdenv's compiler, and
    # the ort-wrapper with ONNX (reduce-config reads the models with it).
    assert _pname(_stdenv_of(nix, config_drv)["env"]["cc"]) == "gcc-wrapper"
    (tool,) = config["env"]["nativeBuildInputs"].split()
    tool_env = nix.derivation(_drv_of(nix, tool))["env"]
    assert {"onnx", "numpy"} <= {_pname(p) for p in tool_env["propagatedBuildInputs"].split()}


def test_the_reduced_build_applies_the_config_with_ort_s_mechanism(
    nix: Nix, from_models: dict[str, Any]
) -> None:
    env, config = from_models["env"], from_models["config"]
    full_env = nix.derivation(from_models["full"])["env"]
    assert from_models["name"] != from_models["fullName"]
    assert env["pname"] == full_env["pname"] + "-reduced"
    # The full build's flags, and the one that makes CMake compile the reduced registrations.
    flags = _cmake_flags(env)
    assert flags.pop(REDUCED_FLAG) == "ON"
    assert flags == _cmake_flags(full_env)
    assert REDUCED_FLAG not in _cmake_flags(full_env)
    # ORT's script, on the config, before configure, into the build directory CMake will use.
    words = _words(env["preConfigure"])
    python, script = words[0], words[1]
    assert script == "tools/ci_build/reduce_op_kernels.py"
    assert _after(words, "--cmake_build_dir") == "${cmakeBuildDir:-build}"
    assert words[-1] == config
    # ORT's tools/python/util defines its config parser only when flatbuffers imports.
    env_drv = nix.derivation(_drv_of(nix, python.removesuffix("/bin/python3")))
    assert "flatbuffers" in {_pname(p) for p in env_drv["env"]["propagatedBuildInputs"].split()}
    # finalize records the reduction in the manifest.
    finalize = _words(env["postFixup"].split("ort-wrapper finalize", 1)[1])
    assert _after(finalize, "--operators-config") == config
    assert "preConfigure" not in full_env
    assert "--operators-config" not in full_env["postFixup"]


def test_a_ready_operator_config_is_taken_as_it_is(nix: Nix, tmp_path: Path) -> None:
    ops = tmp_path / "required_operators.config"
    ops.write_text("ai.onnx;17;Add,Conv,Relu\n")
    info = _eval(
        nix, _info(f'f.lib.mkReducedOnnxruntime pkgs "cpu" {{ operatorsConfig = {ops}; }}')
    )
    drv = nix.derivation(info["drv"])
    config = _words(drv["env"]["preConfigure"])[-1]
    assert config == info["config"] and config in drv["inputSrcs"]
    assert _store_bytes(nix, config) == ops.read_bytes()
    assert not [d for d in drv["inputDrvs"] if "required-operators" in d]
    assert _cmake_flags(drv["env"])[REDUCED_FLAG] == "ON"


@pytest.mark.parametrize(
    ("variant", "args", "message"),
    [
        ("cpu", "forModels = [ ];", "forModels is empty"),
        ("cpu", "", "give forModels (a list of .onnx files) or operatorsConfig"),
        ("cpu", "forModels = {first};", "forModels must be a list of .onnx files, not path"),
        ("cpu", 'forModels = [ "{first}" ];', 'the string "{first}" is not a model file'),
        ("cpu", "forModels = [ 1 ];", "a value of type int is not a model file"),
        ("cpu", "forModels = [ {first} ]; operatorsConfig = {first};", "not both"),
        ("cuda-dyn", "forModels = [ {first} ];", "its linkMode is shared"),
        ("cuda", "forModels = [ {first} ];", "it uses CUDA"),
        ("gpu", "forModels = [ {first} ];", "no such variant (known: "),
    ],
)
def test_what_cannot_be_reduced_is_refused_by_name(
    nix: Nix, models: list[Path], variant: str, args: str, message: str
) -> None:
    first = str(models[0])
    args = args.format(first=first)
    stderr = _refused(nix, f'(f.lib.mkReducedOnnxruntime pkgs "{variant}" {{ {args} }}).drvPath')
    assert f"mkReducedOnnxruntime {variant}: " in stderr
    assert message.format(first=first) in stderr, stderr


def test_models_may_be_derivations_or_strings_naming_store_paths(nix: Nix) -> None:
    """A model made by another derivation reaches the sandbox too (a fetchurl, an export)."""
    made = 'pkgs.runCommand "made.onnx" { } "exit 1"'
    info = _eval(
        nix,
        _info(
            f'let m = {made}; in f.lib.mkReducedOnnxruntime pkgs "cpu" '
            '{ forModels = [ m "${m}" ]; }'
        ),
    )
    config = nix.derivation(_drv_of(nix, info["config"]))
    made_drv = next(d for d in config["inputDrvs"] if d.endswith("-made.onnx.drv"))
    made_out = nix.derivation(made_drv)["outputs"]["out"]["path"]
    words = _words(config["env"]["buildCommand"])
    start = words.index("reduce-config") + 1
    assert words[start : start + 2] == [made_out, made_out]


def test_coreml_is_reduced_on_darwin_and_the_overlay_offers_the_same_function(
    nix: Nix, models: list[Path]
) -> None:
    forms = f"{{ forModels = {_nix_list(models)}; }}"
    coreml = _eval(
        nix,
        f'(f.lib.mkReducedOnnxruntime pkgs "coreml" {forms}).drvPath',
        system="aarch64-darwin",
    )
    assert _cmake_flags(nix.derivation(coreml)["env"])[REDUCED_FLAG] == "ON"
    both = _eval(
        nix,
        f'let o = import {nix.stand_in} {{ system = "{LINUX}"; '
        "overlays = [ f.overlays.default ]; }; in "
        f'[ (f.lib.mkReducedOnnxruntime pkgs "cpu" {forms}).drvPath '
        f'(o.ortBuilder.mkReducedOnnxruntime "cpu" {forms}).drvPath ]',
    )
    assert both[0] == both[1]


# The parts of ORT's 1.21.0 source the reduce step reads (its scripts, the flatbuffers schema
# its config parser imports, the kernel registration files it rewrites) and the CMake file that
# defines where the build takes the rewritten files from.
ORT_PARTS = (
    "tools/",
    "onnxruntime/core/flatbuffers/",
    "onnxruntime/core/providers/cpu/cpu_execution_provider.cc",
    "onnxruntime/core/providers/op_kernel_type_control_overrides.inc",
    "onnxruntime/contrib_ops/cpu/cpu_contrib_kernels.cc",
    "orttraining/orttraining/training_ops/cpu/cpu_training_kernels.cc",
    "cmake/onnxruntime_providers.cmake",
)

# Stands in for ORT's cmake/CMakeLists.txt: ORT's variables, then ORT's own reduced-ops helpers
# (the head of onnxruntime_providers.cmake), applied to the CPU provider's sources as
# onnxruntime_providers_cpu.cmake does; every source it ends up with must exist.
PROBE = """cmake_minimum_required(VERSION 3.16)
project(reduce_probe NONE)
set(REPO_ROOT ${PROJECT_SOURCE_DIR}/..)
set(ONNXRUNTIME_ROOT ${REPO_ROOT}/onnxruntime)
set(ORTTRAINING_SOURCE_DIR ${REPO_ROOT}/orttraining/orttraining)
include(${PROJECT_SOURCE_DIR}/op_reduction_helpers.cmake)
set(srcs ${ONNXRUNTIME_ROOT}/core/providers/cpu/cpu_execution_provider.cc
         ${ONNXRUNTIME_ROOT}/contrib_ops/cpu/cpu_contrib_kernels.cc)
if(onnxruntime_REDUCED_OPS_BUILD)
  substitute_op_reduction_srcs(srcs)
endif()
foreach(src ${srcs})
  if(NOT EXISTS ${src})
    message(FATAL_ERROR "no such source: ${src}")
  endif()
  message(STATUS "kernel registrations: ${src}")
endforeach()
"""


def _ort_source(tmp: Path) -> Path:
    """The parts of ORT 1.21.0 the step reads, from the lab's pinned, hash-checked tarball."""
    from ort_wrapper.files import cache_root
    from ort_wrapper.lab.source import fetch_source, known_source

    tarball = fetch_source(known_source("1.21.0"), cache_root() / "downloads")
    with tarfile.open(tarball) as tar:
        top = tar.next().name.split("/", 1)[0]
        members = [
            m
            for m in tar.getmembers()
            if (m.isfile() or m.isdir()) and m.name.removeprefix(top + "/").startswith(ORT_PARTS)
        ]
        tar.extractall(tmp, members=members, filter="data")
    return tmp / top


def test_the_reduce_step_writes_where_cmake_configures(
    nix: Nix, from_models: dict[str, Any], tmp_path: Path
) -> None:
    if not shutil.which("cmake"):
        pytest.skip("needs cmake")
    source = _ort_source(tmp_path)
    providers = (source / "cmake/onnxruntime_providers.cmake").read_text()
    helpers = providers[: providers.index("\nif(")]
    assert "function(substitute_op_reduction_srcs" in helpers
    (source / "cmake/op_reduction_helpers.cmake").write_text(helpers)
    (source / "cmake/CMakeLists.txt").write_text(PROBE)
    ops = tmp_path / "required_operators.config"
    ops.write_text("# made for this test\nai.onnx;13;Add\n")
    env = from_models["env"]
    python = _words(env["preConfigure"])[0]
    # The hook as the derivation has it, with this interpreter (which has flatbuffers) in place
    # of the Nix Python environment, and this config in place of the derivation's.
    hook = env["preConfigure"].replace(python, sys.executable)
    hook = hook.replace(from_models["config"], str(ops))
    done = subprocess.run(
        ["bash", str(STAND_IN / "phases.sh"), "configure"],
        cwd=source,
        env={
            "PATH": os.environ["PATH"],
            "HOME": str(tmp_path),
            "PYTHONDONTWRITEBYTECODE": "1",
            "preConfigure": hook,
            "cmakeDir": env["cmakeDir"],
            "cmakeFlags": env["cmakeFlags"],
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    listed = re.findall(r"kernel registrations: (\S+)", done.stdout)
    generated = source / "build" / "op_reduction.generated"
    assert listed == [
        str(generated / "onnxruntime/core/providers/cpu/cpu_execution_provider.cc"),
        str(generated / "onnxruntime/contrib_ops/cpu/cpu_contrib_kernels.cc"),
    ]
    # Add (opset 13) is still registered, Conv is not (a registration that clang-format wrapped
    # is joined back into one line, with its comment marker when the script disabled it).
    text = re.sub(r"(?<!>),\n(?://)?\s+", ", ", Path(listed[0]).read_text())
    lines = text.splitlines()
    registrations = [line for line in lines if "BuildKernelCreateInfo<" in line]
    add = [line for line in registrations if "13, 13, float, Add)" in line]
    conv = [line for line in registrations if re.search(r", Conv\)>", line)]
    assert add and not any(line.lstrip().startswith("//") for line in add)
    assert conv and all(line.lstrip().startswith("//") for line in conv)


def test_the_readme_command_evaluates_to_a_reduced_cpu_build(
    nix: Nix, models: list[Path], tmp_path: Path
) -> None:
    """The README's one command, run from a checkout whose lock points nixpkgs at the stand-in
    (the lock's `locked` entry only: flake.nix is as written), with models where it names them."""
    (expr,) = re.findall(r"^nix build --impure --expr '([^']+)'$", README.read_text(), re.M)
    checkout = tmp_path / "checkout"
    shutil.copytree(nix.flake, checkout, symlinks=True)
    lock = json.loads((checkout / "flake.lock").read_text())
    nar_hash = nix.run("hash", "path", str(nix.stand_in)).stdout.strip()
    lock["nodes"]["nixpkgs"]["locked"] = {
        "type": "path",
        "path": str(nix.stand_in),
        "narHash": nar_hash,
    }
    (checkout / "flake.lock").write_text(json.dumps(lock))
    named = re.findall(r"\./[\w./-]+\.onnx", expr)
    assert len(named) == len(models)
    for rel, model in zip(named, models, strict=True):
        (checkout / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(model, checkout / rel)
    done = subprocess.run(
        ["nix", "eval", "--json", "--impure", "--expr", f"let r = {expr}; in [ r.drvPath r.name ]"],
        cwd=checkout,
        env=nix.env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    drv_path, name = json.loads(done.stdout)
    assert name.startswith("onnxruntime-cpu-reduced-")
    (config,) = [d for d in nix.derivation(drv_path)["inputDrvs"] if "required-operators" in d]
    sources = nix.derivation(config)["inputSrcs"]
    assert sorted(_store_name(s) for s in sources if s.endswith(".onnx")) == sorted(
        Path(rel).name for rel in named
    )

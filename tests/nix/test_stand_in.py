"""The stand-in nixpkgs refuses what real nixpkgs refuses, where the flake relies on it.

Each test evaluates an expression that nixpkgs rejects (at evaluation, or when it builds) and
checks the stand-in rejects it too, or that the stand-in's model shows the difference a build
would hit (a compiler in the closure or not, a package's lib output rather than its out).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from support.nix import STAND_IN, Nix

pytestmark = pytest.mark.nix

LINUX = "x86_64-linux"


def _pkgs(nix: Nix, system: str = LINUX, config: str = "{ }") -> str:
    return f'(import {nix.stand_in} {{ system = "{system}"; config = {config}; }})'


def _eval(nix: Nix, expr: str, check: bool = True):
    done = nix.run("eval", "--json", "--impure", "--expr", expr, check=check)
    return json.loads(done.stdout) if done.returncode == 0 else done


def _refused(nix: Nix, expr: str) -> str:
    done = nix.run("eval", "--json", "--impure", "--expr", expr, check=False)
    assert done.returncode != 0, f"the stand-in accepted: {expr}"
    return done.stderr


def _stdenv_of(nix: Nix, drv_path: str) -> dict[str, Any]:
    """The stand-in stdenv derivation a derivation was made with (its `stdenv` variable)."""
    closure = json.loads(nix.run("show-derivation", "-r", drv_path).stdout)
    out = closure[drv_path]["env"]["stdenv"]
    return next(d for d in closure.values() if d["outputs"]["out"]["path"] == out)


def test_run_command_has_no_compiler_and_run_command_cc_has_one(nix: Nix) -> None:
    """nixpkgs: runCommand is stdenvNoCC's (a script calling cc fails to build),
    runCommandCC is stdenv's."""
    pkgs = _pkgs(nix)
    plain = _eval(nix, f'({pkgs}.runCommand "probe" {{ }} "cc -o $out x.c").drvPath')
    with_cc = _eval(nix, f'({pkgs}.runCommandCC "probe" {{ }} "cc -o $out x.c").drvPath')
    assert _stdenv_of(nix, plain)["env"]["cc"] == ""
    assert _stdenv_of(nix, with_cc)["env"]["cc"].endswith("-gcc-wrapper-stand-in")
    assert _eval(nix, f"{pkgs}.stdenvNoCC.cc == null")
    darwin = _eval(nix, f"{_pkgs(nix, 'aarch64-darwin')}.stdenv.cc.pname")
    assert darwin == "clang-wrapper"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ('rev = "v1"; tag = "v1";', "requires one of either `rev` or `tag`"),
        ("", "requires one of either `rev` or `tag`"),
        ('tag = "v1"; sha256Hash = "x";', "unexpected argument 'sha256Hash'"),
        ('tag = "v1"; fetchSubmodule = true;', "unexpected argument 'fetchSubmodule'"),
    ],
)
def test_fetch_from_github_arguments(nix: Nix, args: str, message: str) -> None:
    expr = (
        f'({_pkgs(nix)}.fetchFromGitHub {{ owner = "o"; repo = "r"; {args} '
        'hash = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="; }).drvPath'
    )
    assert message in _refused(nix, expr)


def test_fetch_from_github_accepts_one_of_rev_and_tag(nix: Nix) -> None:
    base = 'owner = "o"; repo = "r"; hash = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";'
    for pin in ('tag = "v1";', 'rev = "0123456789abcdef0123456789abcdef01234567";'):
        drv = _eval(nix, f"({_pkgs(nix)}.fetchFromGitHub {{ {base} {pin} }}).drvPath")
        assert drv.endswith("-source.drv")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ('includes = [ "a" ]; excludes = [ "b" ];', "cannot use excludes and includes"),
        ("strip = 1;", "unexpected argument 'strip'"),
        ("sha256 = null;", "unexpected argument 'sha256'"),
    ],
)
def test_fetchpatch_arguments(nix: Nix, args: str, message: str) -> None:
    expr = (
        f'({_pkgs(nix)}.fetchpatch {{ url = "https://example.org/x.patch"; {args} '
        'hash = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="; }).drvPath'
    )
    assert message in _refused(nix, expr)


def test_multi_output_packages_have_distinct_outputs(nix: Nix) -> None:
    """`${cudnn}/lib` is not where nixpkgs' cuDNN keeps its libraries: lib.getLib is."""
    got = _eval(
        nix,
        f"let pkgs = {_pkgs(nix, config='{ allowUnfree = true; cudaSupport = true; }')}; "
        "inherit (pkgs) lib; c = pkgs.cudaPackages; in {"
        ' out = "${c.cudnn}"; lib = "${lib.getLib c.cudnn}"; dev = "${lib.getDev c.cudnn}";'
        ' static = "${lib.getStatic c.libcublas}"; bin = "${lib.getBin c.cuda_nvcc}";'
        ' nvccLib = "${lib.getLib c.cuda_nvcc}"; nvccOut = "${c.cuda_nvcc}";'
        ' single = "${lib.getLib pkgs.zlib}"; zlib = "${pkgs.zlib}"; }',
    )
    assert len({got["out"], got["lib"], got["dev"]}) == 3
    assert got["lib"].endswith("-cudnn-stand-in-lib")
    assert got["static"].endswith("-libcublas-stand-in-static")
    assert got["bin"].endswith("-cuda_nvcc-stand-in-bin")
    assert got["nvccLib"] == got["nvccOut"]  # no lib output: out, as nixpkgs' getOutput
    assert got["single"] == got["zlib"]


def test_broken_packages_are_refused_unless_allowed(nix: Nix) -> None:
    probe = 'stdenv.mkDerivation { name = "probe"; meta.broken = true; }'
    message = _refused(nix, f"(with {_pkgs(nix)}; {probe}).drvPath")
    assert "is marked as broken, refusing to evaluate" in message
    allowed = _pkgs(nix, config="{ allowBroken = true; }")
    assert _eval(nix, f"(with {allowed}; {probe}).drvPath").endswith("-probe.drv")


def _python_package(nix: Nix, tmp: Path, requires: list[str], extra: str) -> str:
    (tmp / "pyproject.toml").write_text(
        '[project]\nname = "probe"\nversion = "1"\ndependencies = ' + json.dumps(requires) + "\n"
    )
    return (
        f'(with {_pkgs(nix)}.python3Packages; buildPythonPackage {{ pname = "probe"; '
        f'version = "1"; pyproject = true; src = {tmp}; '
        f"dependencies = [ numpy onnxruntime ]; {extra} }}).drvPath"
    )


@pytest.mark.parametrize(
    ("requires", "extra", "message"),
    [
        (["onnxruntime==1.23.2"], "", "onnxruntime==1.23.2 not satisfied by version 1.22.2"),
        (["numpy>=1.24,<2"], "", "numpy<2 not satisfied by version 2.3.4"),
        (["pyelftools>=0.31"], "", "pyelftools not installed"),
        (["onnxruntime==1.23.2"], 'pythonRelaxDeps = [ "numpy" ];', "not satisfied"),
    ],
)
def test_runtime_deps_check_refuses_what_nixpkgs_refuses(
    nix: Nix, tmp_path: Path, requires: list[str], extra: str, message: str
) -> None:
    assert message in _refused(nix, _python_package(nix, tmp_path, requires, extra))


@pytest.mark.parametrize(
    ("requires", "extra"),
    [
        (["onnxruntime==1.23.2"], 'pythonRelaxDeps = [ "onnxruntime" ];'),
        (["onnxruntime==1.23.2", "numpy<2"], "pythonRelaxDeps = true;"),
        (["pyelftools>=0.31"], 'pythonRemoveDeps = [ "pyelftools" ];'),
        (['onnx==1.18.0; extra == "check"', "numpy>=1.24"], ""),
    ],
)
def test_runtime_deps_check_lets_relaxed_removed_and_extras_through(
    nix: Nix, tmp_path: Path, requires: list[str], extra: str
) -> None:
    drv = _eval(nix, _python_package(nix, tmp_path, requires, extra))
    assert drv.endswith("-probe-1.drv")


# Each expression below is one real nixpkgs refuses, with the message it gives (read from its
# source: pkgs/stdenv/generic/make-derivation.nix, check-meta.nix, lib/meta.nix,
# pkgs/development/interpreters/python/mk-python-derivation.nix, cuda-modules' buildRedist).
ENV_OVERLAP = (
    "The `env` attribute set cannot contain any attributes passed to derivation. "
    "The following attributes are overlapping:\n  - NIX_LDFLAGS"
)
ENV_TYPE = (
    "The `env` attribute set can only contain derivation, string, boolean or integer "
    "attributes. The `{name}` attribute is of type {type}."
)
NO_FORMAT = (
    "python3.13-probe-1 does not configure a `format`. To build with setuptools as before, "
    "set `pyproject = true` and `build-system = [ setuptools ]`."
)
GET_EXE = (
    "lib.meta.getExe': The first argument is of type {type}, but it should be a derivation instead."
)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ('{ NIX_LDFLAGS = "-z,noexecstack"; }', ENV_OVERLAP),
        ('{ FLAGS = [ "-a" "-b" ]; }', ENV_TYPE.format(name="FLAGS", type="list")),
        ("{ SETTINGS = { a = 1; }; }", ENV_TYPE.format(name="SETTINGS", type="set")),
        ("{ RATIO = 0.5; }", ENV_TYPE.format(name="RATIO", type="float")),
    ],
)
def test_env_is_checked_as_make_derivation_checks_it(nix: Nix, env: str, message: str) -> None:
    probe = f'stdenv.mkDerivation {{ name = "probe"; NIX_LDFLAGS = "-x"; env = {env}; }}'
    refused = _refused(nix, f"(with {_pkgs(nix)}; {probe}).drvPath")
    assert " ".join(message.split()) in " ".join(refused.split())  # Nix indents later lines


def test_env_of_strings_booleans_integers_and_derivations_goes_into_the_derivation(
    nix: Nix,
) -> None:
    probe = 'stdenv.mkDerivation { name = "probe"; env = { A = "a"; B = true; C = 3; D = zlib; }; }'
    drv = _eval(nix, f"(with {_pkgs(nix)}; {probe}).drvPath")
    env = json.loads(nix.run("show-derivation", drv).stdout)[drv]["env"]
    assert (env["A"], env["B"], env["C"]) == ("a", "1", "3")
    assert env["D"].endswith("-zlib-stand-in")


def test_a_python_package_must_say_how_it_is_built(nix: Nix) -> None:
    package = (
        "(with {pkgs}.python3Packages; buildPythonPackage "
        '{{ pname = "probe"; version = "1"; {extra} }}).drvPath'
    )
    assert NO_FORMAT in _refused(nix, package.format(pkgs=_pkgs(nix), extra=""))
    for extra in ('format = "setuptools";', "pyproject = false;"):
        assert _eval(nix, package.format(pkgs=_pkgs(nix), extra=extra)).endswith("-probe-1.drv")


def test_bad_platforms_make_a_package_unavailable(nix: Nix) -> None:
    """nixpkgs' availableOn: meta.platforms matches and meta.badPlatforms does not; the meta
    check refuses a package that is not available."""
    probe = (
        'stdenv.mkDerivation {{ name = "probe"; meta.platforms = [ "{LINUX}" ]; '
        "meta.badPlatforms = {bad}; }}"
    )
    bad = probe.format(LINUX=LINUX, bad=f'[ "{LINUX}" ]')
    message = _refused(nix, f"(with {_pkgs(nix)}; {bad}).drvPath")
    assert "is not available on the requested hostPlatform" in message
    available = f"with {_pkgs(nix)}; lib.meta.availableOn stdenv.hostPlatform"
    meta = '{ meta = { platforms = [ "' + LINUX + '" ]; badPlatforms = [ "' + LINUX + '" ]; }; }'
    assert _eval(nix, f"({available} {meta})") is False
    assert _eval(nix, f'({available} {{ meta.badPlatforms = [ "aarch64-darwin" ]; }})') is True
    good = probe.format(LINUX=LINUX, bad='[ "aarch64-darwin" ]')
    assert _eval(nix, f"(with {_pkgs(nix)}; {good}).drvPath").endswith("-probe.drv")


@pytest.mark.parametrize(("value", "kind"), [('"/bin/sh"', "string"), ("{ }", "set")])
def test_get_exe_prime_refuses_what_is_not_a_derivation(nix: Nix, value: str, kind: str) -> None:
    expr = f'with {_pkgs(nix)}; lib.getExe\' {value} "sh"'
    assert GET_EXE.format(type=kind) in _refused(nix, expr)
    got = _eval(nix, f'with {_pkgs(nix)}; lib.getExe\' protobuf "protoc"')
    assert got.endswith("-protobuf-stand-in/bin/protoc")


@pytest.mark.parametrize(
    "hashes",
    [
        'sha256 = "0000000000000000000000000000000000000000000000000000";',
        'hash = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";',
    ],
)
def test_fetchurl_takes_sha256_as_nixpkgs_does(nix: Nix, hashes: str) -> None:
    expr = f'({_pkgs(nix)}.fetchurl {{ url = "https://example.org/x.tar.gz"; {hashes} }}).drvPath'
    assert _eval(nix, expr).endswith("-x.tar.gz.drv")


def test_fetchurl_refuses_two_hashes_and_unknown_arguments(nix: Nix) -> None:
    url = 'url = "https://example.org/x.tar.gz";'
    sha = 'sha256 = "0000000000000000000000000000000000000000000000000000";'
    two = f'({_pkgs(nix)}.fetchurl {{ {url} {sha} hash = "sha256-AAAA"; }}).drvPath'
    assert "exactly one of hash, sha256, sha512, sha1" in _refused(nix, two)
    odd = f"({_pkgs(nix)}.fetchurl {{ {url} {sha} sha257 = 1; }}).drvPath"
    assert "unexpected argument 'sha257'" in _refused(nix, odd)


def test_cuda_redistributables_are_broken_unless_cuda_support(nix: Nix) -> None:
    """nixpkgs' buildRedist: meta.broken unless config.cudaSupport; pkgsCuda turns it on."""
    config = "{ allowUnfree = true; }"
    plain = f"{_pkgs(nix, config=config)}.cudaPackages.cuda_cudart.drvPath"
    assert "‘cuda_cudart-stand-in’ is marked as broken" in _refused(nix, plain)
    via = f"{_pkgs(nix, config=config)}.pkgsCuda.cudaPackages.cuda_cudart.drvPath"
    on = f"{_pkgs(nix, config='{ allowUnfree = true; cudaSupport = true; }')}"
    assert _eval(nix, via) == _eval(nix, f"{on}.cudaPackages.cuda_cudart.drvPath")
    assert _eval(nix, f"{_pkgs(nix, config=config)}.pkgsCuda.config.cudaSupport") is True


def test_auditwheel_is_refused_on_darwin_like_nixpkgs(nix: Nix) -> None:
    """nixpkgs' auditwheel is Linux-only; the flake's darwin wrappers must do without it."""
    expr = f"{_pkgs(nix, system='aarch64-darwin')}.python3Packages.auditwheel.drvPath"
    assert "not available on the requested hostPlatform" in _refused(nix, expr)


@pytest.mark.skipif(shutil.which("cmake") is None, reason="needs cmake")
@pytest.mark.parametrize(
    ("hook", "build_dir"),
    [("", "build"), ("cmakeBuildDir=elsewhere", "elsewhere"), ("touch hook-ran-here", "build")],
)
def test_configure_phase_runs_the_hook_in_the_source_root_before_the_build_dir_default(
    tmp_path: Path, hook: str, build_dir: str
) -> None:
    """nixpkgs' cmakeConfigurePhase: runHook preConfigure in the source root, then
    cmakeBuildDir defaults to build (a hook may set it), CMake configures cmakeDir from it."""
    source = tmp_path / "source"
    (source / "cmake").mkdir(parents=True)
    (source / "cmake" / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.16)\nproject(probe NONE)\n"
        'message(STATUS "bin=${CMAKE_BINARY_DIR}")\n'
    )
    done = subprocess.run(
        ["bash", str(STAND_IN / "phases.sh"), "configure"],
        cwd=source,
        env={"PATH": os.environ["PATH"], "preConfigure": hook, "cmakeDir": "../cmake"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"bin={source / build_dir}\n" in done.stdout
    assert (source / "hook-ran-here").exists() == hook.startswith("touch")

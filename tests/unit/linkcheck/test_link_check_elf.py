"""link-check on ELF objects made here with gcc and clang, each verdict compared with what GNU
ld (through gcc) really does with the same inputs: position independence into -no-pie, -pie
and -shared, libc++ against libstdc++, the old string ABI; and a shared library that needs a
newer glibc than a given target."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ort_wrapper.linkcheck import link_check

pytestmark = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("gcc", "g++", "clang++", "ar")),
    reason="needs gcc, g++ and clang++ (tools/setup.sh)",
)

NOPIC = ("-fno-pic", "-fno-PIE")
SOURCES = {
    # &g: an absolute 32-bit address (R_X86_64_32) in non-PIC code
    "abs": ("int g = 1;\nint *addr(void) { return &g; }\n", "addr"),
    # reading a default-visibility global: R_X86_64_PC32 (fine in a PIE, not in -shared)
    "pc32": ("int h = 2;\nint read_h(void) { return h; }\n", "read_h"),
    # local-exec TLS: R_X86_64_TPOFF32 (fine in a PIE, not in -shared)
    "tls": ("__thread int t = 3;\nint get_t(void) { return t; }\n", "get_t"),
}
OUTPUT_FLAGS = {"exe": ["-no-pie"], "pie": ["-pie"], "shared": ["-shared"]}


def _cc(folder: Path, name: str, source: str, *flags: str, tool: str = "gcc") -> Path:
    src = folder / (name + (".cpp" if tool != "gcc" else ".c"))
    src.write_text(source)
    out = folder / f"{name}.o"
    subprocess.run([tool, "-c", "-O1", *flags, str(src), "-o", str(out)], check=True)
    return out


def _ar(folder: Path, name: str, *objects: Path) -> Path:
    out = folder / name
    subprocess.run(["ar", "rcs", str(out), *map(str, objects)], check=True)
    return out


@pytest.fixture(scope="module")
def pic(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("pic")
    files = {}
    for kind, (source, function) in SOURCES.items():
        files[f"lib{kind}"] = _ar(d, f"lib{kind}.a", _cc(d, kind, source, *NOPIC))
        files[f"libpic{kind}"] = _ar(d, f"libpic{kind}.a", _cc(d, f"pic{kind}", source, "-fPIC"))
        call = f"int {function}();\nint main(void) {{ return {function}() != 0 ? 0 : 1; }}\n"
        files[f"main{kind}"] = _cc(d, f"main{kind}", call, "-fPIC")
    return files


def _ld(inputs: list[Path], output: str, tool: str = "gcc") -> bool:
    out = inputs[0].parent / f"out-{output}"
    cmd = [tool, *OUTPUT_FLAGS[output], *map(str, inputs), "-o", str(out)]
    return subprocess.run(cmd, capture_output=True, check=False).returncode == 0


@pytest.mark.parametrize("output", OUTPUT_FLAGS)
@pytest.mark.parametrize("kind", SOURCES)
@pytest.mark.parametrize("pic_flag", ["nopic", "pic"])
def test_position_independence_equals_ld(
    pic: dict[str, Path], kind: str, output: str, pic_flag: str
) -> None:
    lib = pic[f"lib{kind}" if pic_flag == "nopic" else f"libpic{kind}"]
    inputs = [pic[f"main{kind}"], lib]
    report = link_check(inputs, output)
    assert report.ok is _ld(inputs, output)
    if not report.ok:
        [check] = [c for c in report.checks if c.status == "fail"]
        assert check.name.endswith(f"lib{kind}.a({kind}.o)") and "-fPIC" in check.fix


def test_the_refused_cases_are_the_expected_ones(pic: dict[str, Path]) -> None:
    """Guard the fixtures: ld refuses absolute relocations in a PIE, PC32 and TPOFF32 only in a
    shared object, and nothing in a non-PIE executable."""
    refused = {
        (kind, output)
        for kind in SOURCES
        for output in OUTPUT_FLAGS
        if not _ld([pic[f"main{kind}"], pic[f"lib{kind}"]], output)
    }
    assert refused == {("abs", "pie"), ("abs", "shared"), ("pc32", "shared"), ("tls", "shared")}


STRING_LIB = (
    "#include <string>\n"
    'std::string greet(const std::string& s) { return s + "!"; }\n'
    'extern "C" int greet_len(void) { return greet("ab").size(); }\n'
)
CALLS_C = 'extern "C" int greet_len(void);\nint main() { return greet_len() == 3 ? 0 : 1; }\n'
CALLS_STRING = (
    "#include <string>\nstd::string greet(const std::string&);\n"
    'int main() { return greet("a").size() == 2 ? 0 : 1; }\n'
)
# std::to_string is compiled into libc++, not inline: the object needs the library
LIBCXX_MAIN = (
    '#include <string>\nextern "C" int greet_len(void);\n'
    "int main() { return std::to_string(greet_len()).size() == 1 ? 0 : 1; }\n"
)
LIBCXX_INLINE = (
    '#include <string>\nextern "C" int greet_len(void);\n'
    'int main() { std::string s("x"); return greet_len() + s.size() == 4 ? 0 : 1; }\n'
)


@pytest.fixture(scope="module")
def cxx(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cxx")
    old = "-D_GLIBCXX_USE_CXX11_ABI=0"
    return {
        "dist": _ar(d, "libdist.a", _cc(d, "dist", STRING_LIB, tool="g++")),
        "olddist": _ar(d, "libolddist.a", _cc(d, "olddist", STRING_LIB, old, tool="g++")),
        "calls_c": _cc(d, "calls_c", CALLS_C, tool="g++"),
        "calls_string": _cc(d, "calls_string", CALLS_STRING, tool="g++"),
        "libcxx_main": _cc(d, "libcxx_main", LIBCXX_MAIN, "-stdlib=libc++", tool="clang++"),
        "libcxx_inline": _cc(d, "libcxx_inline", LIBCXX_INLINE, "-stdlib=libc++", tool="clang++"),
    }


CXX_CASES = {
    "libstdc++ consumer, libstdc++ distribution": (["calls_c", "dist"], True),
    "libc++ consumer, libstdc++ distribution": (["libcxx_main", "dist"], False),
    "libc++ consumer using std only inline": (["libcxx_inline", "dist"], True),
    "new-ABI consumer, old-ABI library, C interface": (["calls_c", "olddist"], True),
    "new-ABI consumer, old-ABI library, std::string interface": (
        ["calls_string", "olddist"],
        False,
    ),
}


@pytest.mark.parametrize("case", CXX_CASES)
def test_cxx_runtime_equals_ld(cxx: dict[str, Path], case: str) -> None:
    names, links = CXX_CASES[case]
    inputs = [cxx[n] for n in names]
    assert _ld(inputs, "pie", tool="g++") is links
    report = link_check(inputs)
    assert report.ok is links
    if not links:
        [check] = [c for c in report.checks if c.status == "fail"]
        assert "olddist.o" in str(check.data) or "libcxx_main.o" in str(check.data)


def test_newer_glibc_than_the_target(tmp_path: Path) -> None:
    """dlopen is GLIBC_2.34 since libdl moved into libc: a library calling it needs 2.34."""
    src = tmp_path / "need.c"
    src.write_text('#include <dlfcn.h>\nvoid *open_it(void) { return dlopen("x", 1); }\n')
    lib = tmp_path / "libneed.so"
    subprocess.run(["gcc", "-shared", "-fPIC", str(src), "-o", str(lib)], check=True)
    old = link_check([lib], target_glibc="2.31")
    [check] = [c for c in old.checks if c.status == "fail"]
    assert "GLIBC_2.34" in check.detail and "GLIBC_2.31" in check.detail
    assert link_check([lib], target_glibc="2.34").ok


def test_truncated_elf_object_is_an_error_and_the_rest_is_judged(
    pic: dict[str, Path], tmp_path: Path
) -> None:
    cut = tmp_path / "cut.o"
    cut.write_bytes(pic["mainabs"].read_bytes()[:300])
    report = link_check([pic["mainabs"], pic["libabs"], cut], "pie")
    [bad] = report.of(str(cut))
    assert bad.status == "fail" and "truncated ELF object" in bad.detail
    assert report.section("position independence").status == "fail"


REAL_CPP = (
    "#include <iostream>\n#include <string>\n"
    "int main() { std::cout << std::to_string(42) << std::endl; return 0; }\n"
)
LD_RELOCATION = re.compile(r"relocation (\S+) against (?:symbol )?`([^']+)'")


@pytest.mark.parametrize("output", OUTPUT_FLAGS)
@pytest.mark.parametrize("pic_flag", ["-fPIE", "-fPIC"])
def test_gcc_own_libstdcxx_archive_equals_ld(tmp_path: Path, output: str, pic_flag: str) -> None:
    """A real archive (gcc's libstdc++.a, hundreds of members) with a real C++ object: the
    verdict, and on a failure the relocation and symbol ld names."""
    archive = Path(
        subprocess.check_output(["g++", "-print-file-name=libstdc++.a"], text=True).strip()
    )
    if not archive.is_file():
        pytest.skip("g++ has no libstdc++.a")
    obj = _cc(tmp_path, "real", REAL_CPP, pic_flag, tool="g++")
    cmd = ["g++", *OUTPUT_FLAGS[output], "-static-libstdc++", str(obj), "-o", str(tmp_path / "out")]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    report = link_check([obj, archive], output)
    assert report.ok is (done.returncode == 0)
    if not report.ok:
        [check] = [c for c in report.checks if c.status == "fail"]
        relocation, symbol = LD_RELOCATION.search(done.stderr).groups()
        assert (check.data["relocation"], check.data["symbol"]) == (relocation, symbol)


def test_pypi_wheel_library_against_glibc_targets(
    wheel_prefix: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real PyPI libonnxruntime.so (manylinux_2_27: GLIBC_2.27 at most, shared/FACTS.md),
    taken from a distribution's manifest by --dist, with a C consumer of the C API."""
    from ort_wrapper.cli import main

    obj = _cc(
        tmp_path,
        "capi",
        "const void *OrtGetApiBase(void);\nint main(void) { return !OrtGetApiBase(); }\n",
    )
    args = ["link-check", "--json", str(obj), "--dist", str(wheel_prefix)]
    assert main([*args, "--target-glibc", "2.26"]) == 1
    report = json.loads(capsys.readouterr().out)
    [section] = [s for s in report["sections"] if s["name"] == "symbol versions"]
    failed = [c for c in section["checks"] if c["status"] == "fail"]
    assert [c["data"]["family"] for c in failed] == ["GLIBC"]
    assert Path(failed[0]["name"]).name.startswith("libonnxruntime.so.")
    assert "needs GLIBC_2.27" in failed[0]["detail"]
    assert main([*args, "--target-glibc", "2.27"]) == 0

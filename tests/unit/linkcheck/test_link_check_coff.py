"""link-check on Windows objects made here with Debian's clang in MSVC mode and llvm-lib, each
verdict compared with what lld-link really does with the same inputs: the same outcome, and
on a failure the same two objects named (shared/FACTS.md, "The MSVC runtime mismatch")."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ort_wrapper.cli import main
from ort_wrapper.linkcheck import link_check

TOOLS = ("clang", "llvm-lib", "lld-link", "llvm-ar", "llvm-dlltool")
pytestmark = pytest.mark.skipif(
    not all(shutil.which(t) for t in TOOLS), reason="needs clang, llvm and lld (tools/setup.sh)"
)

CL = ["clang", "--driver-mode=cl", "--target=x86_64-pc-windows-msvc", "/GS-", "/c"]
# What MSVC's <yvals.h> writes for each runtime (its _MSC_VER pair kept out: clang has none).
PRAGMAS = {
    "/MD": ("0", "MD_DynamicRelease"),
    "/MT": ("0", "MT_StaticRelease"),
    "/MDd": ("2", "MDd_DynamicDebug"),
}
LLD = ["lld-link", "/lldignoreenv", "/nodefaultlib", "/entry:main", "/subsystem:console"]
LLD_MISMATCH = re.compile(r"mismatch detected for '([^']+)':\n>>> (\S+) has value (\S+)\n>>> (\S+)")


def _compile(folder: Path, name: str, source: str, runtime: str = "/MD", *extra: str) -> Path:
    """``name``.obj from ``source``, with the runtime's detect_mismatch pragmas in front when
    ``runtime`` is one of PRAGMAS (a plain C object has only /DEFAULTLIB)."""
    src = folder / f"{name}.c"
    head = ""
    if runtime in PRAGMAS and "pragmas" in extra:
        level, library = PRAGMAS[runtime]
        head = (
            f'#pragma detect_mismatch("_ITERATOR_DEBUG_LEVEL", "{level}")\n'
            f'#pragma detect_mismatch("RuntimeLibrary", "{library}")\n'
        )
    src.write_text(head + source)
    out = folder / f"{name}.obj"
    flags = [f for f in extra if f != "pragmas"]
    subprocess.run([*CL, runtime, *flags, str(src), f"/Fo{out}"], check=True, cwd=folder)
    return out


def _lib(folder: Path, name: str, *objects: Path) -> Path:
    out = folder / name
    subprocess.run(["llvm-lib", f"/out:{out}", *map(str, objects)], check=True, cwd=folder)
    return out


@pytest.fixture(scope="module")
def objs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every object and library the cases combine."""
    d = tmp_path_factory.mktemp("coff")
    f = {
        "ort_md": _compile(d, "ort_md", "int ort_fn(void) { return 1; }\n", "/MD", "pragmas"),
        "esaxx_mt": _compile(d, "esaxx_mt", "int es_fn(void) { return 2; }\n", "/MT", "pragmas"),
        "dbg_mdd": _compile(d, "dbg_mdd", "int dbg_fn(void) { return 3; }\n", "/MDd", "pragmas"),
        "spare_mt": _compile(d, "spare_mt", "int spare_fn(void) { return 4; }\n", "/MT", "pragmas"),
        "big_mt": _compile(
            d, "big_mt", "int big_fn(void) { return 5; }\n", "/MT", "pragmas", "/bigobj"
        ),
        "lto_mt": _compile(
            d, "lto_mt", "int lto_fn(void) { return 6; }\n", "/MT", "pragmas", "-flto"
        ),
        "main_ort": _compile(
            d, "main_ort", "int ort_fn(void);\nint main(void) { return ort_fn(); }\n"
        ),
        "main_md": _compile(
            d, "main_md", "int es_fn(void);\nint main(void) { return es_fn(); }\n", "/MD", "pragmas"
        ),
    }
    for name, callee in (
        ("both", "es_fn"),
        ("dbg", "dbg_fn"),
        ("big", "big_fn"),
        ("lto", "lto_fn"),
    ):
        src = f"int ort_fn(void); int {callee}(void);\n"
        src += f"int main(void) {{ return ort_fn() + {callee}(); }}\n"
        f[f"main_{name}"] = _compile(d, f"main_{name}", src)
    # three objects whose mismatches lld finds in load order: x has both keys, y only
    # RuntimeLibrary (differs: reported first), z only _ITERATOR_DEBUG_LEVEL (differs later)
    for name, pragmas in (
        ("x", (("_ITERATOR_DEBUG_LEVEL", "0"), ("RuntimeLibrary", "MD_DynamicRelease"))),
        ("y", (("RuntimeLibrary", "MT_StaticRelease"),)),
        ("z", (("_ITERATOR_DEBUG_LEVEL", "2"),)),
    ):
        lines = "".join(f'#pragma detect_mismatch("{k}", "{v}")\n' for k, v in pragmas)
        body = lines + f"int {name}_fn(void) {{ return 7; }}\n"
        f[f"lib{name}"] = _lib(d, f"lib{name}.lib", _compile(d, f"obj_{name}", body))
    xyz = "int x_fn(void); int y_fn(void); int z_fn(void);\n"
    xyz += "int main(void) { return x_fn() + y_fn() + z_fn(); }\n"
    f["main_xyz"] = _compile(d, "main_xyz", xyz)
    imp = "__declspec(dllimport) int imp_fn(void); int ort_fn(void);\n"
    f["main_imp"] = _compile(
        d, "main_imp", imp + "int main(void) { return imp_fn() + ort_fn(); }\n"
    )
    (d / "imp.def").write_text("LIBRARY imp.dll\nEXPORTS\n  imp_fn\n")
    dlltool = ["llvm-dlltool", "-m", "i386:x86-64", "-d", "imp.def", "-l", "imp.lib"]
    subprocess.run(dlltool, check=True, cwd=d)
    f["imp"] = d / "imp.lib"
    f["onnxruntime"] = _lib(d, "onnxruntime.lib", f["ort_md"])
    f["onnxruntime_spare"] = _lib(d, "onnxruntime_spare.lib", f["ort_md"], f["spare_mt"])
    f["esaxx"] = _lib(d, "esaxx.lib", f["esaxx_mt"])
    f["dbg"] = _lib(d, "dbg.lib", f["dbg_mdd"])
    f["big"] = _lib(d, "big.lib", f["big_mt"])
    f["lto"] = _lib(d, "lto.lib", f["lto_mt"])
    (d / "lib.rmeta").write_bytes(b"rust\0metadata")
    rlib = d / "libesaxx_rs-0123.rlib"
    subprocess.run(["llvm-ar", "rcs", rlib.name, "lib.rmeta", "esaxx_mt.obj"], check=True, cwd=d)
    f["rlib"] = rlib
    return f


def _lld(inputs: list[Path]) -> tuple[bool, tuple[str, str, str] | None]:
    """Whether lld-link links ``inputs``, and the first mismatch it names (key, two objects)."""
    folder = inputs[0].parent
    cmd = [*LLD, "/out:case.exe", *(p.name for p in inputs)]
    done = subprocess.run(cmd, cwd=folder, capture_output=True, text=True, check=False)
    found = LLD_MISMATCH.search(done.stderr)
    named = (found.group(1), found.group(2), found.group(4)) if found else None
    return done.returncode == 0, named


def _ours(inputs: list[Path]) -> tuple[bool, tuple[str, str, str] | None]:
    report = link_check(inputs)
    fails = [c for c in report.checks if c.status == "fail"]
    first = next((c.data for c in fails if "key" in c.data), None)
    named = None
    if first:
        named = (first["key"], Path(first["first"]).name, Path(first["conflict"]).name)
    return report.ok, named


CASES = {
    "md alone": (["main_ort", "onnxruntime"], True),
    "md with mt (the seed's LNK2038)": (["main_both", "onnxruntime", "esaxx"], False),
    "unreferenced mt member in an md library": (["main_ort", "onnxruntime_spare"], True),
    "md with mdd": (["main_dbg", "onnxruntime", "dbg"], False),
    "md consumer object with mt library": (["main_md", "esaxx"], False),
    "md with a bigobj mt": (["main_big", "onnxruntime", "big"], False),
    "import library": (["main_imp", "imp", "onnxruntime"], True),
    "md with an mt member in an rlib": (["main_both", "onnxruntime", "rlib"], False),
    "md with an mt bitcode member": (["main_lto", "onnxruntime", "lto"], False),
    "two keys differing in two later objects": (["main_xyz", "libx", "liby", "libz"], False),
}


@pytest.mark.parametrize("case", CASES)
def test_verdict_equals_lld_link(objs: dict[str, Path], case: str) -> None:
    names, links = CASES[case]
    inputs = [objs[n] for n in names]
    lld = _lld(inputs)
    assert lld[0] is links, f"lld-link did not do what this case is about: {lld}"
    assert _ours(inputs) == lld


def test_unloaded_member_is_reported_if_used(objs: dict[str, Path]) -> None:
    report = link_check([objs["main_ort"], objs["onnxruntime_spare"]])
    [spare] = [c for c in report.checks if c.name.endswith("(spare_mt.obj)")]
    assert spare.status == "info" and "fails if something uses it" in spare.detail


def test_the_fix_names_the_odd_member_and_real_options(objs: dict[str, Path]) -> None:
    report = link_check([objs["main_both"], objs["onnxruntime"], objs["esaxx"]])
    [check] = [c for c in report.checks if c.status == "fail"]
    assert "esaxx.lib(esaxx_mt.obj): MT_StaticRelease" in check.detail
    assert "every other loaded object: MD_DynamicRelease" in check.detail
    for option in ("CXXFLAGS_<target>=/MD", "esaxx_fast", "--enable_msvc_static_runtime"):
        assert option in check.fix


def test_import_objects_name_their_dll(objs: dict[str, Path]) -> None:
    report = link_check([objs["main_imp"], objs["imp"], objs["onnxruntime"]])
    assert report.ok
    assert report.of("imports")[0].data["dlls"] == ["imp.dll"]


def test_cli_json_and_exit_code(objs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "link-check",
        "--json",
        str(objs["main_both"]),
        str(objs["onnxruntime"]),
        str(objs["esaxx"]),
    ]
    assert main(args) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False
    [section] = [s for s in data["sections"] if s["name"] == "msvc runtime"]
    assert section["status"] == "fail"


def _patched(source: Path, out: Path, old: bytes, new: bytes) -> Path:
    data = source.read_bytes()
    assert data.count(old) >= 1
    out.write_bytes(data.replace(old, new, 1))
    return out


def test_bad_inputs_each_get_an_error_and_the_rest_is_judged(
    objs: dict[str, Path], tmp_path: Path
) -> None:
    empty = tmp_path / "empty.lib"
    empty.touch()
    cut = tmp_path / "cut.obj"
    cut.write_bytes(objs["ort_md"].read_bytes()[:120])
    cut_lib = tmp_path / "cut.lib"
    cut_lib.write_bytes(objs["esaxx"].read_bytes()[:-40])
    report = link_check(
        [objs["main_both"], objs["onnxruntime"], objs["esaxx"], empty, cut, cut_lib]
    )
    problems = {c.name: c.detail for c in report.section("inputs").checks if c.status == "fail"}
    assert "empty (0 bytes)" in problems[str(empty)]
    assert "truncated COFF object" in problems[str(cut)]
    assert "runs past the end" in problems[str(cut_lib)]
    assert report.section("msvc runtime").status == "fail"  # the readable ones still judged


def test_an_index_naming_a_symbol_its_member_lacks(objs: dict[str, Path], tmp_path: Path) -> None:
    """The index says es_fn lives in a member that defines only zz_fn: lld-link loads it and
    fails (undefined es_fn); link-check names the lying archive."""
    folder = tmp_path
    obj = _patched(objs["esaxx_mt"], folder / "esaxx_mt.obj", b"es_fn", b"zz_fn")
    lib = _lib(folder, "lying.lib", obj)
    lying = _patched(lib, folder / "lying.lib", b"zz_fn", b"es_fn")  # the index only
    main_obj = folder / "main_both.obj"
    main_obj.write_bytes(objs["main_both"].read_bytes())
    shutil.copy(objs["onnxruntime"], folder / "onnxruntime.lib")
    inputs = [main_obj, folder / "onnxruntime.lib", lying]
    assert _lld(inputs)[0] is False
    report = link_check(inputs)
    [lie] = [c for c in report.checks if c.name == str(lying)]
    assert lie.status == "fail" and "does not" in lie.detail


def test_an_index_pointing_between_members(objs: dict[str, Path], tmp_path: Path) -> None:
    data = bytearray(objs["onnxruntime"].read_bytes())
    data[72:76] = (1).to_bytes(4, "big")  # the first index entry's member offset
    bad = tmp_path / "bad.lib"
    bad.write_bytes(bytes(data))
    report = link_check([objs["main_ort"], bad])
    [check] = report.of(str(bad))
    assert "where no member starts" in check.detail


def test_a_directory_loop_is_reported_once_and_the_rest_scanned(
    objs: dict[str, Path], tmp_path: Path
) -> None:
    deps = tmp_path / "deps"
    deps.mkdir()
    for name in ("main_both", "onnxruntime", "esaxx"):
        shutil.copy(objs[name], deps / objs[name].name)
    (deps / "loop").symlink_to(deps)
    report = link_check([deps])
    loops = [c for c in report.checks if "already scanned" in c.detail]
    assert len(loops) == 1
    assert report.section("msvc runtime").status == "fail"


def test_stl_functions_of_a_newer_toolset_are_named(objs: dict[str, Path], tmp_path: Path) -> None:
    """A member calling the STL's vectorised __std_find_trivial_1 (MSVC 17.x's STL): a link
    with an older toolset's STL fails; the member and the symbol are named."""
    src = (
        "const void *__std_find_trivial_1(const void *, const void *, unsigned char);\n"
        'int es_fn(void) { static const char s[] = "ab";\n'
        "  return __std_find_trivial_1(s, s + 2, 'b') != 0; }\n"
    )
    stl = _lib(tmp_path, "stl.lib", _compile(tmp_path, "uses_stl", src, "/MD", "pragmas"))
    report = link_check([objs["main_both"], objs["onnxruntime"], stl])
    [check] = report.of("MSVC STL toolset")
    assert check.status == "warn" and check.data["users"] == [f"{stl}(uses_stl.obj)"]
    assert check.data["symbols"] == ["__std_find_trivial_1"]


def test_an_archive_without_index_is_a_warning(objs: dict[str, Path], tmp_path: Path) -> None:
    """lld-link takes nothing from it (undefined es_fn); GNU ld refuses such an archive."""
    lib = tmp_path / "noindex.lib"
    subprocess.run(["llvm-ar", "rcS", str(lib), str(objs["esaxx_mt"])], check=True)
    report = link_check([objs["main_both"], objs["onnxruntime"], lib])
    [check] = report.of(str(lib))
    assert check.status == "warn" and "no symbol index" in check.detail
    assert "es_fn" in report.of("inputs")[0].data["unresolved"]

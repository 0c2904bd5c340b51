"""init(): locating, validating and loading a distribution, once per process.

What ``locate()`` decides and refuses before anything is imported (which distribution, its
manifest, its libraries' files) is tested in this process on tiny prefixes; loading, rolling
back and the once-per-process rules in fresh interpreters, on a copy of the wheel where a real
import is what is proved."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ort_wrapper.errors import InitError
from ort_wrapper.manifest import MANIFEST_RELPATH
from ort_wrapper.runtime.distribution import ENV_VARS, locate

from helpers import run_fresh
from support.prefixes import make_prefix, manifest_of, rewrite_manifest


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No distribution named by the environment, as a fresh process under run_fresh has it."""
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """A tiny prefix locate() accepts: one small real ELF library and a module stub declaring
    the manifest's version."""
    return make_prefix(tmp_path / "dist", module="1.23.2")


def _locate_error(target: str | Path | None = None) -> str:
    with pytest.raises(InitError) as raised:
        locate(target)
    return str(raised.value)


def test_sixteen_threads_initialise_once_and_share_one_info() -> None:
    result = run_fresh("""
        import threading, ort_wrapper
        from ort_wrapper.runtime import loader
        calls = []
        original = loader._load
        def counting(dist):
            calls.append(dist)
            return original(dist)
        loader._load = counting
        barrier = threading.Barrier(16)
        infos = []
        def worker():
            barrier.wait()
            infos.append(ort_wrapper.init())
        threads = [threading.Thread(target=worker) for _ in range(16)]
        [t.start() for t in threads]; [t.join() for t in threads]
        assert len(infos) == 16 and len({id(i) for i in infos}) == 1, infos
        print(len(calls), infos[0].version)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "1.23.2"]


def test_default_is_the_installed_module_and_reports_what_it_loaded() -> None:
    result = run_fresh("""
        import ort_wrapper
        info = ort_wrapper.init()
        cpu = "CPUExecutionProvider" in info.available_providers
        print(info.distribution.kind, info.version, cpu)
        print(all("onnxruntime" in str(p) for p in info.library_paths), len(info.library_paths) > 0)
        assert ort_wrapper.ort.__version__ == info.version and ort_wrapper.np.__name__ == "numpy"
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["module", "1.23.2", "True", "True", "True"]


def test_prefix_distribution_loads_from_its_own_files(wheel_prefix: Path) -> None:
    result = run_fresh(
        """
        import os, ort_wrapper
        info = ort_wrapper.init()
        root = os.environ["ORT_WRAPPER_DIST"]
        assert info.distribution.kind == "prefix" and info.distribution.origin == "ORT_WRAPPER_DIST"
        assert ort_wrapper.ort.__file__.startswith(root), ort_wrapper.ort.__file__
        assert info.library_paths and all(str(p).startswith(root) for p in info.library_paths)
        print("ok")
        """,
        env={"ORT_WRAPPER_DIST": str(wheel_prefix), "LD_LIBRARY_PATH": None},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_ort_lib_location_is_honoured(tiny: Path, environ: pytest.MonkeyPatch) -> None:
    environ.setenv("ORT_LIB_LOCATION", str(tiny))
    assert locate().origin == "ORT_LIB_LOCATION"


def test_ort_lib_location_may_be_the_library_folder_as_the_ort_crate_reads_it(
    tiny: Path, environ: pytest.MonkeyPatch
) -> None:
    """``ort-wrapper env`` sets ORT_LIB_LOCATION to the folder holding the library (the ``ort``
    crate's meaning): init() takes the prefix that folder belongs to."""
    environ.setenv("ORT_LIB_LOCATION", str(tiny / "lib"))
    assert locate().root == tiny


def test_precedence_argument_then_ort_wrapper_dist_then_ort_lib_location(
    tmp_path: Path, environ: pytest.MonkeyPatch
) -> None:
    a, b = (make_prefix(tmp_path / name, module="1.23.2") for name in "ab")
    environ.setenv("ORT_WRAPPER_DIST", str(a))
    environ.setenv("ORT_LIB_LOCATION", str(b))
    assert locate().root.name == "a"
    assert locate(str(b)).root.name == "b"
    environ.delenv("ORT_WRAPPER_DIST")
    assert locate().root.name == "b"


def test_garbage_path_names_the_path_and_what_was_expected(
    tmp_path: Path, environ: pytest.MonkeyPatch
) -> None:
    out = _locate_error(tmp_path / "nowhere")
    assert "nowhere: no such directory (expected a distribution directory)" in out
    environ.setenv("ORT_WRAPPER_DIST", "/etc/passwd")
    out = _locate_error()
    assert "ORT_WRAPPER_DIST=/etc/passwd is a file, expected a distribution directory" in out


def test_directory_without_manifest_or_library_says_what_was_looked_for(tmp_path: Path) -> None:
    out = _locate_error(tmp_path)
    assert f"{tmp_path} is not a distribution: it holds neither {MANIFEST_RELPATH} nor" in out
    assert "libonnxruntime.so*" in out and f"{tmp_path}/lib/" in out


def test_non_elf_library_is_named(tiny: Path) -> None:
    lib = tiny / "lib/libonnxruntime.so.1"
    lib.write_text("not a library\n")
    out = _locate_error(tiny)
    assert lib.name in out and "not an ELF file" in out


def test_wrong_architecture_library_is_named(tiny: Path) -> None:
    lib = tiny / "lib/libonnxruntime.so.1"
    data = bytearray(lib.read_bytes())
    data[18:20] = (183).to_bytes(2, "little")  # e_machine = EM_AARCH64
    lib.write_bytes(bytes(data))
    out = _locate_error(tiny)
    assert lib.name in out and "built for aarch64 (64-bit), expected x86_64 (64-bit)" in out


def test_wrong_version_library_is_named(tmp_path: Path) -> None:
    """A library whose symbol versions name another release than the manifest declares."""
    lib = tmp_path / "dist/lib/libonnxruntime.so.1.23.2"
    lib.parent.mkdir(parents=True)
    script = tmp_path / "vers.map"
    script.write_text("VERS_1.23.2 { global: OrtGetApiBase; local: *; };\n")
    _c_library(lib, "int OrtGetApiBase(void) { return 0; }\n", f"-Wl,--version-script={script}")
    entry = {"path": "lib/libonnxruntime.so.1.23.2", "kind": "shared", "sha256": "0" * 64}
    prefix = make_prefix(
        tmp_path / "dist", core=False, module="1.22.0", files=[entry], version="1.22.0"
    )
    out = _locate_error(prefix)
    assert "libonnxruntime.so.1.23.2" in out
    assert "is ONNX Runtime 1.23.2 (it defines VERS_1.23.2), expected 1.22.0" in out


def test_manifest_naming_a_missing_library(tiny: Path) -> None:
    data = manifest_of(tiny)
    data["files"].append({"path": "lib/libgone.so", "kind": "shared", "sha256": "0" * 64})
    rewrite_manifest(tiny, data)
    out = _locate_error(tiny)
    assert "lib/libgone.so (listed in share/ort-wrapper/manifest.json) is missing" in out


def test_manifest_that_does_not_parse(tiny: Path) -> None:
    (tiny / MANIFEST_RELPATH).write_text("{ not json")
    assert "is not valid JSON" in _locate_error(tiny)
    rewrite_manifest(tiny, {"schema": 1, "version": "1.23.2"})
    assert "missing key 'linkMode'" in _locate_error(tiny)


def _init_error(target: str, env: dict | None = None) -> str:
    """What ``init(target)`` raises in a fresh process (for refusals made past locate())."""
    result = run_fresh(
        f"""
        import ort_wrapper
        try:
            ort_wrapper.init({target})
        except ort_wrapper.InitError as exc:
            print("InitError:", exc)
        """,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("InitError:"), result.stdout + result.stderr
    return result.stdout


def test_static_c_distribution_without_link_flags_says_why_it_cannot_run(tmp_path: Path) -> None:
    static = make_prefix(tmp_path / "dist", core=False, linkMode="static")
    out = _init_error(repr(str(static)))
    assert "through the C API" in out and "records no link flags" in out


def test_failed_init_is_retryable_and_leaves_nothing_half_set(wheel_prefix: Path) -> None:
    lib = next((wheel_prefix / "python/onnxruntime/capi").glob("libonnxruntime.so.*"))
    saved = lib.with_name("saved-copy")
    lib.rename(saved)
    result = run_fresh(
        f"""
        import sys, os, ort_wrapper
        path_before = list(sys.path)
        try:
            ort_wrapper.init({str(wheel_prefix)!r})
            raise SystemExit("expected InitError")
        except ort_wrapper.InitError as exc:
            print("first:", "is missing" in str(exc))
        assert sys.path == path_before and "onnxruntime" not in sys.modules
        os.rename({str(saved)!r}, {str(lib)!r})  # the user fixes the distribution
        info = ort_wrapper.init({str(wheel_prefix)!r})
        print("second:", info.distribution.kind, ort_wrapper.init() is info)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["first:", "True", "second:", "prefix", "True"]


def test_a_failed_import_is_rolled_back(wheel_prefix: Path) -> None:
    init_py = wheel_prefix / "python/onnxruntime/__init__.py"
    good = init_py.read_text()
    init_py.write_text('__version__ = "1.23.2"\nraise ImportError("broken on purpose")\n')
    result = run_fresh(
        f"""
        import sys, pathlib, ort_wrapper
        before = list(sys.path)
        try:
            ort_wrapper.init({str(wheel_prefix)!r})
        except ort_wrapper.InitError as exc:
            print("broken on purpose" in str(exc))
        assert sys.path == before and "onnxruntime" not in sys.modules
        pathlib.Path({str(init_py)!r}).write_text({good!r})
        print(ort_wrapper.init({str(wheel_prefix)!r}).distribution.kind)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "prefix"]


def test_second_distribution_in_one_process_is_refused(tiny: Path) -> None:
    result = run_fresh(
        f"""
        import ort_wrapper
        ort_wrapper.init()
        try:
            ort_wrapper.init({str(tiny)!r})
        except ort_wrapper.InitError as exc:
            print("refused:", "a process holds one runtime" in str(exc))
        """
    )
    assert result.stdout.split() == ["refused:", "True"], result.stderr


def test_onnxruntime_imported_elsewhere_first_is_a_mixed_runtime_error(tiny: Path) -> None:
    result = run_fresh(
        f"""
        import onnxruntime, ort_wrapper
        try:
            ort_wrapper.init({str(tiny)!r})
        except ort_wrapper.InitError as exc:
            print("mixed:", "already imported" in str(exc))
        """
    )
    assert result.stdout.split() == ["mixed:", "True"], result.stderr


@pytest.mark.parametrize(
    "module",
    [
        "onnxruntime",
        "ort_wrapper.finalize",
        "ort_wrapper.lab",
        "ort_wrapper.bundle",
        "ort_wrapper.check",
        "ort_wrapper.runtime.capi.static",  # static linking with a C compiler
        "elftools",
        "numpy",
    ],
)
def test_import_stays_light(module: str) -> None:
    result = run_fresh(f"import sys, ort_wrapper; print({module!r} in sys.modules)")
    assert result.stdout.strip() == "False", result.stderr


def test_copied_prefix_is_left_untouched_by_init(wheel_prefix: Path, add_model_path: Path) -> None:
    before = {p: p.read_bytes() for p in wheel_prefix.rglob("*") if p.is_file()}
    result = run_fresh(
        f"""
        import numpy as np, ort_wrapper
        info = ort_wrapper.init({str(wheel_prefix)!r})
        x = np.ones((2, 3), np.float32)
        outputs = ort_wrapper.infer({str(add_model_path)!r}, {{"X": x, "Y": x}})
        print(info.distribution.root, *outputs)
        """
    )
    # init took this prefix and ran a model from it, so "untouched" says something
    assert result.stdout.split() == [str(wheel_prefix), "Z"], result.stderr
    after = {
        p: p.read_bytes()
        for p in wheel_prefix.rglob("*")
        if p.is_file() and "__pycache__" not in str(p)
    }
    assert {p: v for p, v in before.items() if "__pycache__" not in str(p)} == after
    shutil.rmtree(wheel_prefix)


def test_a_rejected_version_is_rolled_back(tmp_path: Path) -> None:
    # no library to catch it: the module must
    prefix = make_prefix(tmp_path / "dist", core=False, module="1.23.2", version="1.22.0")
    result = run_fresh(
        f"""
        import sys, ort_wrapper
        before = list(sys.path)
        try:
            ort_wrapper.init({str(prefix)!r})
        except ort_wrapper.InitError as exc:
            text = str(exc)
            print("declares ONNX Runtime 1.22.0, but its module" in text and "is 1.23.2" in text)
        assert sys.path == before and "onnxruntime" not in sys.modules
        print(ort_wrapper.init().distribution.origin)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["True", "installed module"]


def _c_library(path: Path, source: str, *link: str) -> Path:
    src = path.with_suffix(".c")
    src.write_text(source)
    subprocess.run(
        ["cc", "-shared", "-fPIC", f"-Wl,-soname,{path.name}", str(src), "-o", str(path), *link],
        check=True,
    )
    return path


def test_preload_is_in_dependency_order_and_global(wheel_prefix: Path) -> None:
    lib = wheel_prefix / "lib"
    lib.mkdir()
    _c_library(lib / "libortw_base.so", "int ortw_base_value(void) { return 41; }\n")
    _c_library(
        lib / "libortw_top.so",
        "int ortw_base_value(void);\nint ortw_top_value(void) { return ortw_base_value() + 1; }\n",
        f"-L{lib}",
        "-lortw_base",
    )
    # listed dependent-first: init() must order them, or dlopen of the top one fails
    rewrite_manifest(wheel_prefix, preload=["lib/libortw_top.so", "lib/libortw_base.so"])
    result = run_fresh(
        f"""
        import ctypes, ort_wrapper
        ort_wrapper.init({str(wheel_prefix)!r})
        everything = ctypes.CDLL(None)  # RTLD_GLOBAL: visible in the global namespace
        print(everything.ortw_top_value(), everything.ortw_base_value())
        """,
        env={"LD_LIBRARY_PATH": None},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["42", "41"]


def test_a_preload_that_cannot_load_is_an_init_error(tiny: Path) -> None:
    lib = tiny / "lib"
    elsewhere = tiny.parent / "elsewhere"
    elsewhere.mkdir()
    _c_library(elsewhere / "libortw_gone.so", "int ortw_gone(void) { return 0; }\n")
    _c_library(
        lib / "libortw_needs.so",
        "int ortw_gone(void);\nint ortw_needs(void) { return ortw_gone(); }\n",
        f"-L{elsewhere}",
        "-lortw_gone",
    )
    rewrite_manifest(tiny, preload=["lib/libortw_needs.so"])
    out = _init_error(repr(str(tiny)), env={"LD_LIBRARY_PATH": None})
    assert "cannot load" in out and "libortw_needs.so" in out and "libortw_gone.so" in out

"""The static path of the linking section: a C program compiled and linked against a synthetic
static distribution's archives with its link flags, then run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from unit.check.check_prefixes import static_prefix, write_manifest

from ort_wrapper.check.capi import probe_static
from ort_wrapper.check.linking import linking_section
from ort_wrapper.errors import LinkError
from ort_wrapper.manifest import MANIFEST_RELPATH, load_manifest
from ort_wrapper.runtime.capi.static import link_static, static_interpreter
from ort_wrapper.runtime.distribution import DistributionKind, locate

pytestmark = pytest.mark.skipif(
    shutil.which("cc") is None or shutil.which("ar") is None, reason="needs cc and ar"
)


def test_static_prefix_links_and_answers(tmp_path: Path) -> None:
    root = static_prefix(tmp_path / "dist")
    target = locate(root, strict=False)
    assert target.kind is DistributionKind.STATIC and target.problem is None
    section = linking_section(target)
    assert section.status == "pass", section.to_json()
    capi = next(c for c in section.checks if c.name.startswith("C API"))
    assert "GetApi(21) non-null; GetVersionString() = 1.21.0" in capi.detail
    linked = next(c for c in section.checks if c.name == "shared object from the link flags")
    assert Path(linked.data["path"]).is_file() and "; cached)" in linked.detail


def test_static_prefix_with_wrong_version_fails(tmp_path: Path) -> None:
    root = static_prefix(tmp_path / "dist", version="1.20.9")
    data = json.loads((root / MANIFEST_RELPATH).read_text())
    data["version"] = "1.21.0"
    (root / MANIFEST_RELPATH).write_text(json.dumps(data))
    capi = next(
        c for c in linking_section(locate(root, strict=False)).checks if c.name.startswith("C API")
    )
    assert capi.status == "fail" and "1.20.9, expected 1.21.0" in capi.detail


def test_static_prefix_missing_archive_fails_naming_it(tmp_path: Path) -> None:
    root = static_prefix(tmp_path / "dist")
    (root / "lib" / "libonnxruntime_session.a").unlink()
    section = linking_section(locate(root, strict=False))
    failed = {c.name: c.detail for c in section.checks if c.status == "fail"}
    assert "lib/libonnxruntime_session.a" in failed["manifest files"]
    assert "compile/link failed" in failed["C API (static link)"]


def test_no_compiler_is_reported(tmp_path: Path) -> None:
    root = static_prefix(tmp_path / "dist")
    result = probe_static(root, load_manifest(root), 21, cc="/nonexistent/cc")
    assert result.error and "cannot run /nonexistent/cc" in result.error


def test_missing_cc_on_path_is_a_clear_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = static_prefix(tmp_path / "dist")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = probe_static(root, load_manifest(root), 21)
    assert result.error == "no C compiler: `cc` is not on PATH (install gcc or clang)"


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The linked shared objects are cached under cache_root(): keep them in the test's dir."""
    monkeypatch.setenv("ORT_BUILDER_CACHE", str(tmp_path / "cache"))


def _archive(lib: Path, name: str, source: str) -> None:
    c = lib / f"{name}.c"
    c.write_text(source)
    subprocess.run(["cc", "-c", str(c), "-o", str(lib / f"{name}.o")], check=True)
    subprocess.run(["ar", "rcs", str(lib / f"lib{name}.a"), str(lib / f"{name}.o")], check=True)
    c.unlink()
    (lib / f"{name}.o").unlink()


def test_an_archive_set_that_does_not_link_names_the_symbols(tmp_path: Path) -> None:
    root = tmp_path / "dist"
    lib = root / "lib"
    lib.mkdir(parents=True)
    _archive(
        lib,
        "onnxruntime_session",
        "int helper_from_extra(void);\n"
        "const void* OrtGetApiBase(void) { return (const void*)(long)helper_from_extra(); }\n",
    )
    _archive(lib, "extra", "int helper_from_extra(void) { return 0; }\n")
    _archive(
        lib,
        "lonely",
        "int nowhere_defined(void);\nint lonely(void) { return nowhere_defined(); }\n",
    )
    write_manifest(
        root,
        version="1.21.0",
        link_mode="static",
        entries=[(f"lib/lib{n}.a", "archive") for n in ("onnxruntime_session", "extra", "lonely")],
        link_flags=("${prefix}/lib/libonnxruntime_session.a", "-Wl,--whole-archive",
                    "${prefix}/lib/liblonely.a", "-Wl,--no-whole-archive"),
    )  # fmt: skip
    with pytest.raises(LinkError) as caught:
        link_static(root, load_manifest(root))
    message = str(caught.value)
    assert "2 unresolved symbol(s)" in message
    assert (
        "helper_from_extra (needed by libonnxruntime_session.a(onnxruntime_session.o); "
        "defined in lib/libextra.a)" in message
    )
    assert (
        "nowhere_defined (needed by liblonely.a(lonely.o); no archive here defines it)" in message
    )
    assert caught.value.command and "-Wl,--no-undefined" in caught.value.command
    section = linking_section(locate(root, strict=False))
    failed = {c.name: c.detail for c in section.checks if c.status == "fail"}
    assert "helper_from_extra" in failed["shared object from the link flags"]


def test_archives_that_are_not_pic_run_in_a_python_linked_with_them(tmp_path: Path) -> None:
    """A dependency's archive built without -fPIC (local-exec TLS, as Debian's libre2.a) cannot
    go into a shared object; the archives are then linked into a Python interpreter that
    exports the C API, which is where the session sections run."""
    root = static_prefix(tmp_path / "dist")
    lib = root / "lib"
    source = lib / "tls.c"
    source.write_text("__thread int counter;\nint bump(void) { return ++counter; }\n")
    subprocess.run(["cc", "-c", "-fno-pic", "-ftls-model=local-exec", str(source), "-o",
                    str(lib / "tls.o")], check=True)  # fmt: skip
    subprocess.run(["ar", "rcs", str(lib / "libtls.a"), str(lib / "tls.o")], check=True)
    data = json.loads((root / MANIFEST_RELPATH).read_text())
    data["linkFlags"] = [*data["linkFlags"], "-Wl,--whole-archive", "${prefix}/lib/libtls.a",
                         "-Wl,--no-whole-archive"]  # fmt: skip
    (root / MANIFEST_RELPATH).write_text(json.dumps(data))
    section = linking_section(locate(root, strict=False))
    checks = {c.name: c for c in section.checks}
    shared = checks["shared object from the link flags"]
    assert shared.status == "info" and "libtls.a" in shared.detail, shared.detail
    runner = checks["Python linked with the archives"]
    assert runner.status == "pass" and section.status == "pass"
    python, env = static_interpreter(root, load_manifest(root))
    assert python == runner.data["runner"]
    done = subprocess.run(
        [python, "-c", "import ctypes, sys; from ort_wrapper.runtime.capi.static import "
         "linked_into_this_process as linked; print(linked(), sys.version_info[:2])"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split(maxsplit=1) == ["True", f"{tuple(sys.version_info[:2])}\n"]


def test_link_checks_prediction_names_what_the_real_link_refuses(tmp_path: Path) -> None:
    """The static link checks read the archives with link-check's readers before linking: a
    member built without -fPIC is named with the relocation and symbol ld then names."""
    section = linking_section(locate(static_prefix(tmp_path / "dist", pic=False), strict=False))
    by_name = {c.name: c for c in section.checks}
    predicted = by_name["link-check position independence (shared)"]
    assert predicted.status == "info" and "rebuild it with -fPIC" in predicted.fix
    said = "libonnxruntime_session.a(core.o): relocation R_X86_64_32 against `.bss'"
    assert said in predicted.detail
    real = by_name["shared object from the link flags"]
    assert real.status == "fail" and said in real.detail  # ld agrees, member and relocation


def test_link_checks_prediction_passes_a_position_independent_build(tmp_path: Path) -> None:
    section = linking_section(locate(static_prefix(tmp_path / "dist"), strict=False))
    predicted = next(c for c in section.checks if c.name.startswith("link-check "))
    assert predicted.status == "pass" and "fit a shared link" in predicted.detail

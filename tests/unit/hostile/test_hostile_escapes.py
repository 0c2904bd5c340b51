"""Strings from untrusted files entering another language through the CLI: cargo lines, a CMake
list, the CMake package, ORT's operator config, the terminal. Each is refused with a typed error
(or encoded, for the terminal) and nothing else is touched."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ort_wrapper.errors import EscapeError
from ort_wrapper.finalize.cmakepkg import cmake_package
from ort_wrapper.manifest import load_manifest

import models
from support.hostile import assert_refused, changed, small_prefix, snapshot

INJECTED = "cargo:rustc-link-arg=-Wl,-T,evil.ld"


@pytest.mark.parametrize("field", ["linkFlags", "files[].path"])
def test_a_newline_adds_no_cargo_line(run_cli, tmp_path: Path, field: str) -> None:
    if field == "linkFlags":
        src = small_prefix(tmp_path / "src", linkFlags=[f"-lm\n{INJECTED}"])
    else:  # a shared distribution without flags: its core library's path is the flag
        src = small_prefix(tmp_path / "src")
        lib = src / "lib" / f"libonnxruntime.so.1\n{INJECTED}"
        shutil.move(src / "lib" / "libonnxruntime.so.1", lib)
        manifest = src / "share/ort-wrapper/manifest.json"
        relpath = lib.relative_to(src).as_posix().replace("\n", "\\n")
        manifest.write_text(manifest.read_text().replace("lib/libonnxruntime.so.1", relpath))
    proc = run_cli("link-flags", str(src), "--format", "cargo")
    assert_refused(proc, "refused in a cargo")
    assert INJECTED not in proc.stdout.splitlines()


def test_a_semicolon_does_not_split_a_cmake_flag(run_cli, tmp_path: Path) -> None:
    src = small_prefix(tmp_path / "src", linkFlags=["-lm;-Wl,-T,evil.ld"])
    proc = run_cli("link-flags", str(src), "--format", "cmake")
    assert_refused(proc, "'-lm;-Wl,-T,evil.ld'", "refused in a CMake list")
    assert proc.stdout == ""


def test_a_generator_expression_does_not_enter_the_cmake_package(tmp_path: Path) -> None:
    flag = "-lm$<SEMICOLON>-Wl,-T,evil.ld"
    core = {"path": "lib/libonnxruntime.a", "kind": "archive", "sha256": "0" * 64}
    src = small_prefix(tmp_path / "src", [core], linkMode="static", linkFlags=[flag])
    with pytest.raises(EscapeError, match=r"holds '\$<', a generator expression"):
        cmake_package(load_manifest(src))


@pytest.mark.parametrize("name", ["m.onnx\nai.onnx;1;Relu", "m\u2028ai.onnx;1;Relu.onnx"])
def test_a_model_name_cannot_add_an_operator_line(run_cli, tmp_path: Path, name: str) -> None:
    model = models.save(models.add_model(), tmp_path / name)
    before = snapshot(tmp_path)
    proc = run_cli("reduce-config", str(model), "--out", str(tmp_path / "ops.config"))
    assert_refused(proc, "the model file name", "refused in ONNX Runtime's operator config")
    assert changed(before, snapshot(tmp_path)) == []


def test_escape_sequences_from_a_manifest_do_not_reach_the_terminal(
    run_cli, tmp_path: Path
) -> None:
    src = small_prefix(tmp_path / "src", variant="\x1b]0;owned\x07\x1b[31mred")
    proc = run_cli("bundle", str(src), "--out", str(tmp_path / "out"), "-q")
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stdout + proc.stderr and "\x07" not in proc.stdout
    assert "\\x1b]0;owned\\x07\\x1b[31mred" in proc.stdout


def test_report_text_encodes_what_a_library_or_manifest_said() -> None:
    """``check`` and ``doctor`` print through ``render_text``: a version string or variant with
    escape sequences is shown encoded, the report's own line breaks kept."""
    from ort_wrapper.report import PASS, Check, Report, Section, Table, render_text

    said = "1.23.2\x1b[2J\x1b]0;owned\x07"
    table = Table("facts", ("key", "value"), (("variant", said),))
    report = Report(
        "doctor", said, (Section("library", (Check("version", PASS, said),), (table,)),)
    )
    text = render_text(report)
    assert "\x1b" not in text and "\x07" not in text and text.count("\n") > 4
    assert "1.23.2\\x1b[2J\\x1b]0;owned\\x07" in text

"""The escapers of ``ort_wrapper.escape``, proved with the consumers' own parsers: whatever the
string, the target reads back exactly one item equal to it, or the escaper refuses it.

Real tools where they exist (``cmake -P`` and a CMake configure, ``sh``/``bash``, pkgconf);
for cargo, a faithful reading of its build-script output rules (``custom_build.rs``: split at
``\\n``, each line trimmed, ``cargo:``/``cargo::`` then ``KEY=VALUE`` with the value's end
trimmed); for ONNX Runtime's operator config, its reader's rules (Python text mode, stripped
lines, ``#`` comments).
"""

from __future__ import annotations

import csv
import io
import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ort_wrapper.errors import EscapeError
from ort_wrapper.escape import (
    cargo_directive,
    ccache_config_value,
    cmake_list_item,
    cmake_quoted,
    ort_config_comment,
    pkgconfig_text,
    pkgconfig_word,
    shell_export,
    shell_join,
    shell_quote,
    terminal_text,
    wheel_record_line,
)
from ort_wrapper.operators import ModelRecord, Operator, OperatorConfig, parse_config

# Strings an attacker would try first, then anything hypothesis finds.
HOSTILE = [
    "-lfoo\ncargo:rustc-link-arg=-Wl,-T,evil.ld",
    "a;b",
    "$<SEMICOLON>",
    "${HOME}",
    'x" y',
    "it's",
    "a\u2028b",
    "\x1b[31mred",
    "tail ",
    "a\\",
    "$(id)",
    "#comment",
    "",
]
TEXT = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=40))
SUBPROCESS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Rust's char::is_whitespace, what str::trim removes
RUST_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
RUST_SPACE += "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"


def cargo_reads(output: str) -> list[tuple[str, str]]:
    """The directives cargo takes from a build script's stdout."""
    found = []
    for raw in output.split("\n"):
        line = raw.strip(RUST_SPACE)
        data = line.removeprefix("cargo::") if line.startswith("cargo::") else None
        if data is None and line.startswith("cargo:"):
            data = line.removeprefix("cargo:")
        key, sep, value = (data or "").partition("=")
        if data is not None and sep:
            found.append((key, value.rstrip(RUST_SPACE)))
    return found


@given(TEXT)
@example("-Wl,x\ncargo:rustc-link-arg=-Wl,-T,evil.ld")
def test_a_cargo_line_is_one_directive_with_the_value(value: str) -> None:
    try:
        line = cargo_directive("rustc-link-arg", value, "the flag")
    except EscapeError:
        return
    assert cargo_reads(line) == [("rustc-link-arg", value)]


def _cmake(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    cmake = shutil.which("cmake")
    if cmake is None:
        pytest.fail("cmake is not installed (apt-get install cmake)")
    return subprocess.run([cmake, *args], cwd=cwd, capture_output=True, text=True, check=False)


@SUBPROCESS
@given(TEXT)
def test_a_cmake_quoted_argument_reads_back_as_the_text(value: str) -> None:
    try:
        body = cmake_quoted(value, "the value")
    except EscapeError:
        return
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp, "s.cmake")
        script.write_text(f'file(WRITE "${{OUT}}" "{body}")\n', encoding="utf-8")
        done = _cmake(f"-DOUT={tmp}/out", "-P", str(script), cwd=Path(tmp))
        assert done.returncode == 0, done.stderr
        assert Path(tmp, "out").read_bytes() == value.encode()


_CONSUMER = """cmake_minimum_required(VERSION 3.20)
project(consumer NONE)
add_library(t INTERFACE)
set_property(TARGET t PROPERTY INTERFACE_LINK_LIBRARIES "{items}")
file(GENERATE OUTPUT "${{CMAKE_BINARY_DIR}}/items.txt"
     CONTENT "$<JOIN:$<TARGET_PROPERTY:t,INTERFACE_LINK_LIBRARIES>,\\n>")
"""


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(TEXT, min_size=1, max_size=6))
@example(["-Wl,--as-needed$<SEMICOLON>-Wl,-T,evil.ld", "-lm"])
def test_cmake_list_items_survive_a_link_property_one_each(values: list[str]) -> None:
    """A real configure: the items set as INTERFACE_LINK_LIBRARIES, generator expressions
    evaluated, come back one by one."""
    kept = []
    for value in values:
        try:
            kept.append(cmake_quoted(cmake_list_item(value, "the flag"), "the flag"))
        except EscapeError:
            continue
    if not kept:
        return
    want = [v for v in values if _accepted(v)]
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "CMakeLists.txt").write_text(_CONSUMER.format(items=";".join(kept)))
        done = _cmake("-S", tmp, "-B", f"{tmp}/b", cwd=Path(tmp))
        assert done.returncode == 0, done.stderr
        assert Path(tmp, "b", "items.txt").read_text(encoding="utf-8").split("\n") == want


def _accepted(value: str) -> bool:
    try:
        cmake_list_item(value, "the flag")
    except EscapeError:
        return False
    return True


@SUBPROCESS
@given(TEXT)
@example("$(touch /tmp/pwned)'")
def test_a_shell_word_reads_back_as_the_text(value: str) -> None:
    try:
        word, line = shell_quote(value), shell_join([value, "-lm"], "the flag")
    except EscapeError:
        return
    for shell in ("sh", "bash"):
        done = subprocess.run([shell, "-c", f"printf %s {word}"], capture_output=True, check=True)
        assert done.stdout == value.encode()
        script = f"printf '%s\\0' {line}"
        done = subprocess.run([shell, "-c", script], capture_output=True, check=True)
        assert done.stdout == value.encode() + b"\0-lm\0"


@SUBPROCESS
@given(TEXT)
def test_a_shell_export_sets_exactly_the_value(value: str) -> None:
    """``eval`` of the line sets the value; with ``prepend``, before what the list held."""
    try:
        line, listed = shell_export("ORT_V", value), shell_export("ORT_L", value, prepend=True)
    except EscapeError:
        return
    script = f"ORT_L=old; eval {shlex.quote(line)}; eval {shlex.quote(listed)}; "
    script += 'printf "%s\\0%s" "$ORT_V" "$ORT_L"'
    done = subprocess.run(["bash", "-c", script], capture_output=True, check=True)
    assert done.stdout == value.encode() + b"\0" + value.encode() + b":old"
    with pytest.raises(EscapeError, match="is not a shell variable name"):
        shell_export("X;rm", value)


def _pkgconfig(tmp: str, *args: str) -> str:
    env = {**os.environ, "PKG_CONFIG_PATH": tmp, "PKG_CONFIG_ALLOW_SYSTEM_LIBS": "1"}
    env["PKG_CONFIG_ALLOW_SYSTEM_CFLAGS"] = "1"
    done = subprocess.run(
        ["pkg-config", *args, "t"], capture_output=True, env=env, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@SUBPROCESS
@given(TEXT, TEXT)
@example("-Wl,a b", "1.0 #x")
def test_a_pc_file_gives_back_each_word_and_text(word: str, text: str) -> None:
    """A Libs word and a variable come back alone and whole through pkgconf (its output split
    as a shell would); a Version text comes back as it is."""
    try:
        libs, version = pkgconfig_word(word, "the flag"), pkgconfig_text(text, "the version")
    except EscapeError:
        return
    with tempfile.TemporaryDirectory() as tmp:
        pc = f"v={libs}\nName: t\nDescription: d\nVersion: {version}\nLibs: {libs}\n"
        Path(tmp, "t.pc").write_text(pc)
        assert shlex.split(_pkgconfig(tmp, "--libs")) == [word]
        assert _pkgconfig(tmp, "--variable=v").rstrip("\n") == word
        assert _pkgconfig(tmp, "--modversion").rstrip("\n") == text


def test_a_pc_word_keeps_only_the_named_variables() -> None:
    assert pkgconfig_word("${prefix}/lib/x.a", "f", variables=("prefix",)) == "${prefix}/lib/x.a"
    with pytest.raises(EscapeError):
        pkgconfig_word("${pcfiledir}/x", "f", variables=("prefix",))


def ort_reads(text: str) -> tuple[list[str], list[str]]:
    """ONNX Runtime's reading of a config: its comments and its operator lines."""
    lines = [line.strip() for line in io.StringIO(text, newline=None)]
    return [x for x in lines if x.startswith("#")], [x for x in lines if x and x[0] != "#"]


@given(TEXT)
@example("m.onnx\nai.onnx;1;Relu")
@example("m\u2028ai.onnx;1;Relu.onnx")
def test_a_model_name_is_one_comment_for_ort_and_for_our_reader(name: str) -> None:
    ops = [Operator("ai.onnx", 17, "Add")]
    try:
        ort_config_comment(name, "the name")
        config = OperatorConfig.of(ops, [ModelRecord(name, "0" * 64)])
    except EscapeError:
        return
    comments, operators = ort_reads(config.text())
    assert comments == [f"# model {'0' * 64} {name}"] and operators == ["ai.onnx;17;Add"]
    assert parse_config(config.text(), "t") == config


def test_a_line_break_only_our_old_reader_saw_adds_no_operator() -> None:
    text = "# from m\u2028ai.onnx;1;Relu\nai.onnx;17;Add\n"
    assert parse_config(text, "t").operators == frozenset({Operator("ai.onnx", 17, "Add")})


@given(TEXT)
def test_terminal_text_holds_no_control_character(value: str) -> None:
    shown = terminal_text(value)
    assert all(c.isprintable() or c == "\n" for c in shown)
    if value.isprintable():
        assert shown == value


@given(TEXT)
@example("a,b.so")
def test_a_record_row_reads_back_as_auditwheel_reads_it(name: str) -> None:
    try:
        line = wheel_record_line(name, "sha256=x", "1")
    except EscapeError:
        return
    assert list(csv.reader(line.splitlines())) == [[name, "sha256=x", "1"]]


_PACKAGE_CONSUMER = """cmake_minimum_required(VERSION 3.20)
project(consumer NONE)
find_package(onnxruntime CONFIG REQUIRED PATHS "{dist}" NO_DEFAULT_PATH)
file(GENERATE OUTPUT "${{CMAKE_BINARY_DIR}}/items.txt"
     CONTENT "$<JOIN:$<TARGET_PROPERTY:onnxruntime::onnxruntime,INTERFACE_LINK_LIBRARIES>,\\n>")
"""


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(TEXT, min_size=1, max_size=4))
@example(["-lm$<SEMICOLON>-Wl,-T,evil.ld"])
def test_the_cmake_package_links_exactly_the_manifests_flags(flags: list[str]) -> None:
    """The package of a static distribution, found by a real configure: its link items are
    the manifest's flags, one each, or the package is refused."""
    from ort_wrapper.finalize.cmakepkg import cmake_package
    from ort_wrapper.manifest import FileEntry, Manifest

    core = FileEntry("lib/libonnxruntime.a", "archive", "0" * 64, "core")
    flags = [f for f in flags if f not in ("-Wl,--start-group", "-Wl,--end-group")]
    manifest = Manifest("1.23.2", "cpu", "static", (), (core,), link_flags=tuple(flags))
    try:
        package = cmake_package(manifest)
    except EscapeError:
        return
    with tempfile.TemporaryDirectory() as tmp:
        dist = Path(tmp, "dist")
        for rel, text in {**package, "lib/libonnxruntime.a": ""}.items():
            Path(dist, rel).parent.mkdir(parents=True, exist_ok=True)
            Path(dist, rel).write_text(text)
        Path(tmp, "CMakeLists.txt").write_text(_PACKAGE_CONSUMER.format(dist=dist))
        done = _cmake("-S", tmp, "-B", f"{tmp}/b", cwd=Path(tmp))
        assert done.returncode == 0, done.stderr
        items = Path(tmp, "b", "items.txt").read_text(encoding="utf-8")
        got = items.split("\n") if items else []
        assert got == [f.replace("${prefix}", str(dist)) for f in flags]


@SUBPROCESS
@given(TEXT)
@example("redis://pw@host:6379/0")
@example("redis://h\nremote_only = true")
@example("redis://a redis://b")
@example("redis://${HOME}@h")
def test_a_ccache_config_value_reads_back_as_one_remote_storage_entry(value: str) -> None:
    """ccache itself reads the line back (``--get-config``): the same text, one entry."""
    ccache = shutil.which("ccache")
    if ccache is None:
        pytest.fail("ccache is required (tools/setup.sh installs it)")
    try:
        escaped = ccache_config_value(value, "the URL")
    except EscapeError:
        assert not value or "$" in value or any(c.isspace() or not c.isprintable() for c in value)
        return
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "ccache.conf"
        config.write_text(f"remote_storage = {escaped}\n", encoding="utf-8")
        env = {"PATH": os.environ["PATH"], "CCACHE_CONFIGPATH": str(config), "CCACHE_DIR": tmp}
        done = subprocess.run(
            [ccache, "--get-config", "remote_storage"], env=env, capture_output=True, check=True
        )
    assert done.stdout.decode("utf-8") == value + "\n"
    assert len(done.stdout.split()) == 1

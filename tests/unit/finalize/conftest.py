"""A miniature ONNX Runtime build made at test time from small C files with known symbol
dependencies, compiled with the host's ``cc`` and archived with ``ar`` (or, for darwin, as
Mach-O objects in BSD archives with ``clang -target arm64-apple-macos13`` and ``llvm-ar``).

The dependency graph (``a -> b``: a member of ``a`` calls a function of ``b``)::

    onnxruntime_session -> onnxruntime_framework, onnx      (ORT's component archives)
    onnxruntime_framework -> re2
    onnx -> protobuf -> absl_log -> absl_base
    re2 -> absl_strings -> absl_base
    absl_base <-> absl_synchronization                       (a cycle across two members)
    absl_unused                                              (nothing references it)

The cycle needs a group: ``absl_base``'s second member is only wanted after
``absl_synchronization`` has been scanned.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest


def _c(name: str, body: str, *calls: str) -> str:
    """A C function ``int name(int x)`` returning ``body``, declaring the functions it calls."""
    decls = "".join(f"int {c}(int);\n" for c in calls)
    return f"{decls}int {name}(int x) {{ return {body}; }}\n"


# archive -> {member file name: C source}
SOURCES: dict[str, dict[str, str]] = {
    "onnxruntime_session": {
        "ort_session_entry_point_with_a_long_name.c": _c(
            "OrtGetApiBase", "framework_run(x) + onnx_check(x)", "framework_run", "onnx_check"
        ),
        "util.c": _c("session_util", "x"),
    },
    "onnxruntime_framework": {
        "framework.c": _c("framework_run", "re2_match(x)", "re2_match"),
        "util.c": _c("framework_util", "x + 1"),
    },
    "onnx": {"checker.c": _c("onnx_check", "protobuf_parse(x)", "protobuf_parse")},
    "protobuf": {"parse.c": _c("protobuf_parse", "absl_log(x) * 2", "absl_log")},
    "re2": {"re2.c": _c("re2_match", "absl_str_cat(x) + 3", "absl_str_cat")},
    "absl_strings": {"str_cat.c": _c("absl_str_cat", "absl_raw_log(x)", "absl_raw_log")},
    "absl_log": {"log.c": _c("absl_log", "absl_raw_log(x) + 5", "absl_raw_log")},
    "absl_base": {
        "raw_logging.c": _c("absl_raw_log", "absl_sync_lock(x)", "absl_sync_lock"),
        "helper.c": _c("absl_base_helper", "x * 7"),
    },
    "absl_synchronization": {
        "mutex.c": _c("absl_sync_lock", "absl_base_helper(x)", "absl_base_helper"),
    },
    "absl_unused": {"unused.c": _c("absl_unused_fn", "x")},
}
COMPONENTS = ("onnxruntime_framework", "onnxruntime_session")

# OrtGetApiBase(1): framework_run(1) = re2_match(1) = absl_str_cat(1) + 3 = 7 + 3 = 10;
# onnx_check(1) = protobuf_parse(1) = absl_log(1) * 2 = (7 + 5) * 2 = 24. Total 34.
MAIN_C = (
    "#include <stdio.h>\nint OrtGetApiBase(int);\n"
    'int main(void) { printf("%d\\n", OrtGetApiBase(1)); return 0; }\n'
)
EXPECTED_OUTPUT = "34"


@dataclass(frozen=True)
class FakeBuild:
    """A CMake-like build tree, its install prefix, the archives made, and where finalize is
    to write the distribution (absent until then)."""

    build_dir: Path
    prefix: Path
    archives: dict[str, Path]
    out: Path


@dataclass(frozen=True)
class Toolchain:
    """How the objects and archives of a fake build are made."""

    compile: tuple[str, ...]  # followed by SOURCE -o OBJECT
    archive: tuple[str, ...]  # followed by ARCHIVE OBJECT...


ELF = Toolchain(("cc", "-c", "-fPIC", "-O1"), ("ar", "rcs"))
# darwin's: Mach-O objects for Apple silicon (clang needs no SDK for code without system
# headers) in BSD-format archives (`#1/` long names, `__.SYMDEF` index), as Apple's and
# nixpkgs' darwin toolchains write them.
MACHO = Toolchain(
    ("clang", "-target", "arm64-apple-macos13", "-c", "-O1"),
    ("llvm-ar", "--format=darwin", "rcs"),
)


def _archive(name: str, members: dict[str, str], where: Path, work: Path, tools: Toolchain) -> Path:
    objects = []
    for filename, source in members.items():
        src = work / name / filename
        src.parent.mkdir(parents=True, exist_ok=True)
        src.write_text(source)
        obj = src.with_suffix(".o")
        subprocess.run([*tools.compile, str(src), "-o", str(obj)], check=True)
        objects.append(str(obj))
    where.mkdir(parents=True, exist_ok=True)
    archive = where / f"lib{name}.a"
    subprocess.run([*tools.archive, str(archive), *objects], check=True)
    return archive


def make_fake_build(root: Path, tools: Toolchain = ELF) -> FakeBuild:
    """Compile the SOURCES into archives laid out like an ORT build with in-tree deps."""
    needed = (tools.compile[0], tools.archive[0])
    if not all(shutil.which(t) for t in needed):
        pytest.fail(f"{' and '.join(needed)} are required for the build tests (tools/setup.sh)")
    build_dir, prefix, work = root / "build+tree", root / "prefix", root / "work"
    archives = {}
    for name, members in SOURCES.items():
        if name in COMPONENTS:
            where = build_dir
        else:
            where = build_dir / "_deps" / f"{name.split('_')[0]}-build"
        archives[name] = _archive(name, members, where, work, tools)
    source_dir = root / "src"
    (source_dir / "cmake").mkdir(parents=True)
    (source_dir / "VERSION_NUMBER").write_text("1.21.0\n")
    (build_dir / "CMakeCache.txt").write_text(
        "# a trimmed CMakeCache.txt\n"
        f"CMAKE_HOME_DIRECTORY:INTERNAL={source_dir / 'cmake'}\n"
        f"CMAKE_CACHEFILE_DIR:INTERNAL={build_dir}\n"
    )
    headers = prefix / "include/onnxruntime/core/session"
    headers.mkdir(parents=True)
    (headers / "onnxruntime_c_api.h").write_text("int OrtGetApiBase(int);\n")
    # ORT's install copies one component archive into lib/, as a static install does.
    (prefix / "lib").mkdir()
    shutil.copy2(archives["onnxruntime_session"], prefix / "lib")
    return FakeBuild(build_dir, prefix, archives, root / "dist")


@pytest.fixture(scope="session")
def _compiled(tmp_path_factory: pytest.TempPathFactory) -> FakeBuild:
    return make_fake_build(tmp_path_factory.mktemp("fake-ort"))


@pytest.fixture(scope="session")
def _compiled_macho(tmp_path_factory: pytest.TempPathFactory) -> FakeBuild:
    return make_fake_build(tmp_path_factory.mktemp("fake-ort-macho"), MACHO)


def _fresh_copy(compiled: FakeBuild, tmp_path: Path) -> FakeBuild:
    base = compiled.build_dir.parent
    shutil.copytree(base, tmp_path, symlinks=True, dirs_exist_ok=True)
    cache = tmp_path / compiled.build_dir.name / "CMakeCache.txt"
    cache.write_text(cache.read_text().replace(str(base), str(tmp_path)))
    return FakeBuild(
        tmp_path / compiled.build_dir.name,
        tmp_path / compiled.prefix.name,
        {k: tmp_path / v.relative_to(base) for k, v in compiled.archives.items()},
        tmp_path / "dist",
    )


@pytest.fixture
def fake_build(_compiled: FakeBuild, tmp_path: Path) -> FakeBuild:
    """A fresh copy of the miniature build (compiled once per session) for one test."""
    return _fresh_copy(_compiled, tmp_path)


@pytest.fixture
def fake_macho_build(_compiled_macho: FakeBuild, tmp_path: Path) -> FakeBuild:
    """The same miniature build for darwin (Mach-O objects, BSD archives), fresh per test."""
    return _fresh_copy(_compiled_macho, tmp_path)


def link_and_run(flags: list[str], work: Path) -> subprocess.CompletedProcess[str]:
    """Compile MAIN_C, link it with ``flags`` and run it (the link's result is returned when
    it fails)."""
    main = work / "main.c"
    main.write_text(MAIN_C)
    exe = work / "main"
    done = subprocess.run(
        ["cc", str(main), "-o", str(exe), *flags], capture_output=True, text=True, check=False
    )
    if done.returncode:
        return done
    return subprocess.run([str(exe)], capture_output=True, text=True, check=False)

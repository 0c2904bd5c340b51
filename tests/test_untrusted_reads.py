"""Every file read in python/ort_wrapper goes through the one reader of untrusted bytes
(``untrusted.py``: regular files only, opened without blocking, a size cap, confinement), or is
a read of our own files listed below with the reason: a new ``open()``, ``read_bytes()``,
``np.load()``, ``onnx.load()``... fails until it uses the reader or is listed here, and an entry
the code no longer has fails until it is dropped (as tests/test_import_graph.py does for imports).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent / "python" / "ort_wrapper"
READER = "untrusted.py"
# Calls that open or read a file: module functions by name, methods by ".name".
READS = frozenset(
    {
        "open", "os.open", "io.open", "os.fdopen", "mmap.mmap", "json.load",
        "np.load", "numpy.load", "np.fromfile", "onnx.load", "onnx.load_model",
        "onnx.load_tensor", "zipfile.ZipFile", "tarfile.open",
        ".read_bytes", ".read_text", ".open",
    }
)  # fmt: skip

# (module, function, call) -> why it need not go through the reader.
ALLOWED = {
    # this package's own data files
    ("bundle/companions.py", "_table", ".read_text"): "companions.json, package data",
    ("elf/policy.py", "_categories", ".read_text"): "policy.json, package data",
    ("runtime/capi/api.py", "committed_table", ".read_text"): "ortapi.json, package data",
    ("runtime/catalog.py", "_load", ".read_text"): "data/*.json, package data",
    ("check/baselines.py", "load_baseline", ".read_text"): "conformance baselines we record",
    ("check/cases.py", "run_case", "onnx.load"): "the onnx wheel's own backend-test models",
    # files this process or its own child wrote, in its own temporary directory
    # the kernel's files about this process
    ("check/stability.py", "resident_bytes", "open"): "/proc/self/statm",
    ("runtime/procmaps.py", "loaded_libraries", "open"): "/proc/self/maps",
    # writes (the one writer's business, issue 21 item 4), not reads
    ("cli/main_doctor.py", "_emit", "os.open"): "os.devnull, for writing",
    ("files.py", "atomic_file", "os.fdopen"): "a temporary file it made, for writing",
    ("files.py", "atomic_file", "os.open"): "the writer's new temporary file (O_EXCL), written",
    ("files.py", "_folder", "os.open"): "the output's folder, a descriptor for the *at calls",
    ("files.py", "_umask", ".read_text"): "/proc/self/status, for the umask",
    ("runtime/untrusted.py", "receive", "os.open"): "os.devnull, the confined child's stdin",
    ("bundle/wheel.py", "build_wheel", "zipfile.ZipFile"): "the wheel it writes",
    ("bundle/wheel.py", "build_wheel", ".open"): "a member of the wheel it writes",
    # a distribution's files, each confined and checked by bundle/source.py before it is copied
    # or hashed (copying is the writer's; hashing follows a check of what is hashed)
    ("bundle/wheel.py", "build_wheel", "open"): "copies of checked source files",
    ("files.py", "copy_file", "open"): "copies of checked source files (bundle, finalize)",
    ("files.py", "sha256_file", "open"): "hashes files its callers found and checked",
    # ELF readers: elf/reader.py's _parse opens a file its _magic read through the reader
    ("elf/reader.py", "_parse", "open"): "after _magic read the file through the reader",
    ("elf/archive.py", "_read", ".read_bytes"): "static archives of a build (finalize, check)",
    ("elf/archive.py", "_open", "open"): "static archives of a build (finalize, check)",
    # the build: finalize reads the install prefix and build tree a build (ours) made, and the
    # native lab reads its own sources, patches, stamps and logs
    ("finalize/candidates.py", "dependency_policy", ".read_text"): "dependencies.json",
    ("finalize/candidates.py", "read_cmake_cache", ".read_text"): "the build tree's cache",
    ("finalize/stage.py", "ort_version_of", ".read_text"): "the ORT source's VERSION_NUMBER",
    ("lab/chroot.py", "Chroot.run", "open"): "the lab's log, for appending",
    ("lab/chroot.py", "ensure_chroot", "open"): "the lab's log, for appending",
    ("lab/shared_cache.py", "collect_stats", "open"): "the lab's log, for appending",
    ("lab/import_closure.py", "_imported", ".read_text"): "this package's own modules",
    ("lab/reduced.py", "_readers", ".read_bytes"): "the ORT sources the lab unpacked",
    ("lab/keys.py", "_digest_files", ".read_bytes"): "the project's patches and scripts",
    ("lab/paths.py", "lab_lock", "open"): "the lab's lock file",
    ("lab/trees.py", "read_stamp", ".read_text"): "the lab's own stamp",
    ("lab/keys.py", "source_key", ".read_bytes"): "this package's lab/source_patches.py",
    ("lab/trees.py", "prepare_source", ".read_text"): "the lab's own patch record",
    ("lab/pipeline.py", "run_lab", ".read_text"): "the lab's own result record",
    ("lab/source.py", "_table", ".read_text"): "sources.json, package data",
    ("lab/static_deps.py", "_table", ".read_text"): "static_deps.json, package data",
    ("lab/static_deps.py", "static_deps_key", ".read_bytes"): "its own code and data",
    ("lab/source.py", "fetch_source", "open"): "the download it writes",
    # link-check: an archive's members, re-read from the file elf/archive.py read and indexed
    ("linkcheck/load.py", "Archive.objects", "open"): "an archive read_archive already read",
    ("linkcheck/load.py", "Archive.unit", "open"): "an archive read_archive already read",
    # through the reader: np.load on the descriptor untrusted.opened gave
    ("cli/outputs.py", "read_output", "np.load"): "an .npz opened by untrusted.opened",
}


def _call_name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        dotted = f"{func.value.id}.{func.attr}" if isinstance(func.value, ast.Name) else ""
        return dotted if dotted in READS else f".{func.attr}"
    return ""


def _reads(node: ast.AST, where: str) -> Iterator[tuple[str, str]]:
    """(enclosing function, call) for each file-reading call under ``node``."""
    for child in ast.iter_child_nodes(node):
        inner = where
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            inner = f"{where}.{child.name}".lstrip(".")
        if isinstance(child, ast.Call) and (name := _call_name(child.func)) in READS:
            yield inner, name
        yield from _reads(child, inner)


def file_reads(source: Path = SOURCE) -> set[tuple[str, str, str]]:
    """(module, function, call) of every file read outside the reader."""
    found = set()
    for path in sorted(source.rglob("*.py")):
        module = path.relative_to(source).as_posix()
        if module != READER:
            tree = ast.parse(path.read_text(), str(path))
            found |= {(module, where, call) for where, call in _reads(tree, "")}
    return found


def test_the_scan_sees_reads() -> None:
    tree = ast.parse("def f(p):\n    return p.read_bytes() + open(p).read()\n")
    assert set(_reads(tree, "")) == {("f", ".read_bytes"), ("f", "open")}


def test_every_file_read_goes_through_the_reader_or_is_ours() -> None:
    reads = file_reads()
    bypass = sorted(reads - ALLOWED.keys())
    assert not bypass, (
        f"file reads that bypass {READER} (read user files through it, or list a read of our "
        f"own files in ALLOWED with the reason): {bypass}"
    )
    stale = sorted(ALLOWED.keys() - reads)
    assert not stale, f"ALLOWED lists reads the code no longer has: {stale}"

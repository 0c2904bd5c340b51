"""Hostile manifests and distributions given to init(), info, doctor, check and link-flags:
a typed error naming the file and field (InitError, or a failed check that says it), never a
traceback, a hang or a path outside the distribution's root."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ort_wrapper.check import FAIL, CheckOptions, run_check
from ort_wrapper.errors import InitError
from ort_wrapper.manifest import MANIFEST_RELPATH, load_manifest
from ort_wrapper.runtime.distribution import locate

from support.hostile import (
    NO_DAC_OVERRIDE,
    assert_refused,
    changed,
    cli,
    limit_memory,
    replace_manifest,
    small_prefix,
    snapshot,
)

VERBS = {
    "info": ("info", "--dist"),
    "doctor": ("doctor", "--dist"),
    "check": ("check", "--only", "linking", "--quiet", "--dist"),
    "link-flags": ("link-flags",),
}


def test_init_refuses_a_deeply_nested_manifest_with_init_error(tmp_path: Path) -> None:
    """(A FIFO or /dev/zero are tried in child processes below, with a time and memory limit.)"""
    prefix = small_prefix(tmp_path / "dist")
    manifest = replace_manifest(prefix, "deep")
    with pytest.raises(InitError, match=f"{manifest} is nested too deeply"):
        locate(prefix)


def test_a_manifest_symlinked_out_of_the_distribution_is_refused(tmp_path: Path) -> None:
    prefix = small_prefix(tmp_path / "dist")
    manifest = prefix / "share/ort-wrapper/manifest.json"
    manifest.rename(tmp_path / "elsewhere.json")
    manifest.symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(InitError, match=f"{manifest} leads outside {prefix}"):
        locate(prefix)


@pytest.mark.parametrize("verb", sorted(VERBS))
@pytest.mark.parametrize("hostile", ["deep", "fifo", "device"])
def test_every_verb_reports_an_unreadable_manifest(tmp_path: Path, hostile: str, verb: str) -> None:
    prefix = small_prefix(tmp_path / "dist")
    manifest = replace_manifest(prefix, hostile)
    before = snapshot(tmp_path)
    proc = cli(*VERBS[verb], str(prefix), timeout=60, preexec_fn=limit_memory)
    assert_refused(proc, str(manifest))
    assert changed(before, snapshot(tmp_path)) == []


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("pythonPath", "../other/python", "pythonPath '../other/python'"),
        ("includeDir", "/usr/include", "includeDir '/usr/include'"),
        ("preload", ["../libevil.so"], "preload[0]: path '../libevil.so'"),
        (
            "runtimeLoaded",
            [{"library": "/tmp/x.so", "provider": "CUDAExecutionProvider", "loadedBy": "lib/a"}],
            "runtimeLoaded[0]: library '/tmp/x.so'",
        ),
        ("files", [{"path": "lib/../../x", "kind": "data", "sha256": "0"}], "files[1]: path"),
        ("linkFlags", ["${prefix}/../../x.a"], "linkFlags[0]: path '../../x.a'"),
        ("linkFlags", ["-lm", "-o", "/tmp/victim"], "linkFlags[1]: '-o' is not a library"),
        ("linkFlags", ["-Wl,-o,/tmp/victim"], "linkFlags[0]: '-Wl,-o,/tmp/victim' is not"),
        ("linkFlags", ["@/tmp/options"], "linkFlags[0]: '@/tmp/options' is not"),
        ("linkFlags", ["-Wl,-rpath,/etc"], "linkFlags[0]: '-Wl,-rpath,/etc' is not"),
        (
            "linkFlags",
            ["-Wl,-rpath,${prefix}/lib,-o,/tmp/victim"],
            "linkFlags[0]: '-Wl,-rpath,${prefix}/lib,-o,/tmp/victim' is not",
        ),
        ("linkFlags", ["-Wl,-rpath,${prefix}/../x"], "linkFlags[0]: path '../x'"),
    ],
)
def test_manifest_paths_are_confined_to_the_root(
    tmp_path: Path, field: str, value: object, named: str
) -> None:
    prefix = small_prefix(tmp_path / "dist")
    manifest = prefix / MANIFEST_RELPATH
    data = json.loads(manifest.read_text())
    data[field] = data["files"] + value if field == "files" else value
    manifest.write_text(json.dumps(data))
    with pytest.raises(InitError, match=re.escape(f"{manifest}: {named}")):
        locate(prefix)
    linking = run_check(prefix, CheckOptions(sections=("linking",), quiet=True)).sections[0]
    assert linking.status == FAIL and named in linking.checks[0].detail


def test_link_flags_finalize_writes_are_accepted(tmp_path: Path) -> None:
    flags = ["-L/usr/lib/x", "-Wl,--start-group", "${prefix}/lib/a.a", "-l:libre2.a"]
    tail = ["-Wl,--end-group", "-lm", "-Wl,-rpath,${prefix}/lib"]
    prefix = small_prefix(tmp_path / "dist", linkFlags=[*flags, *tail])
    assert load_manifest(prefix).link_flags == (*flags, *tail)


def test_pythonpath_cannot_import_another_tree(tmp_path: Path) -> None:
    other = tmp_path / "other" / "python" / "onnxruntime"
    other.mkdir(parents=True)
    (other / "__init__.py").write_text('__version__ = "1.23.2"\nraise SystemExit("imported!")\n')
    prefix = small_prefix(tmp_path / "dist" / "prefix", pythonPath="../../other/python")
    proc = cli("info", "--dist", str(prefix))
    assert_refused(proc, "pythonPath '../../other/python'", "has a '..'")
    assert "imported!" not in proc.stdout + proc.stderr


def test_a_file_listed_twice_is_refused(tmp_path: Path) -> None:
    """10**6 entries naming one library kept info, doctor and check busy for minutes (each
    re-read the same file): such a manifest is now too big, and a smaller one is refused."""
    prefix = small_prefix(tmp_path / "dist")
    manifest = prefix / MANIFEST_RELPATH
    data = json.loads(manifest.read_text())
    data["files"] = data["files"] * 1000
    manifest.write_text(json.dumps(data))
    with pytest.raises(InitError, match=r"files\[1\]: path 'lib/libonnxruntime\.so\.1' is already"):
        locate(prefix)


def test_a_report_line_is_bounded(tmp_path: Path) -> None:
    entries = [{"path": f"share/d{i}.bin", "kind": "data", "sha256": "0"} for i in range(5000)]
    prefix = small_prefix(tmp_path / "dist", entries)
    linking = run_check(prefix, CheckOptions(sections=("linking",), quiet=True)).sections[0]
    (files,) = [c for c in linking.checks if c.name == "manifest files"]
    assert files.detail.endswith("and 4990 more") and len(files.detail) < 400
    assert len(files.data["missing"]) == 5000  # the JSON report keeps them all


def test_an_unreadable_library_is_permission_denied(tmp_path: Path) -> None:
    prefix = small_prefix(tmp_path / "dist", pythonPath="python")
    library = prefix / "lib" / "libonnxruntime.so.1"
    library.chmod(0)
    proc = cli("info", "--dist", str(prefix), prefix=NO_DAC_OVERRIDE)
    assert_refused(proc, str(library), "permission denied")
    assert "not an ELF file" not in proc.stderr


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ("Add", "reducedFor: expected an object"),
        ({"operators": [["ai.onnx", 13, "Add;rm"]]}, "reducedFor: 'ai.onnx'/'Add;rm' is not"),
        ({"operators": [["ai.onnx", True, "Add"]]}, "reducedFor: malformed entry"),
        ({"operators": []}, "no operators"),
        (
            {"operators": [["ai.onnx", 13, "Add"]], "models": [{"name": "m", "sha256": "x"}]},
            "reducedFor: 'x' is not a sha256",
        ),
    ],
)
def test_a_malformed_reduction_record_is_refused(tmp_path: Path, value: object, named: str) -> None:
    prefix = small_prefix(tmp_path / "dist", reducedFor=value)
    with pytest.raises(InitError, match=re.escape(named)):
        locate(prefix)


def test_a_reduction_record_reads_back(tmp_path: Path) -> None:
    record = {"operators": [["ai.onnx", 13, "Add"]], "models": []}
    prefix = small_prefix(tmp_path / "dist", reducedFor=record)
    config = load_manifest(prefix).reduced_for
    assert config is not None and config.to_json() == record

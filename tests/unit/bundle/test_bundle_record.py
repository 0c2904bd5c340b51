"""bundle.json has one reader: it reads what ``bundle`` wrote, and a hostile record is a
BundleError naming the file, never a traceback or a path outside the bundle."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ort_wrapper.bundle import BUNDLE_JSON_RELPATH
from ort_wrapper.bundle.record import LeftOut, read_bundle_record
from ort_wrapper.bundle.write import make_bundle, verify_bundle
from ort_wrapper.errors import BundleError
from ort_wrapper.files import sha256_file

from support.bundles import small_elf


def test_the_record_of_a_written_bundle_reads_back(tmp_path: Path) -> None:
    src = tmp_path / "src"
    small_elf(src, "libgood.so.1")
    out = tmp_path / "out"
    result = make_bundle(src, out, quiet=True)
    record = read_bundle_record(out)
    assert (record.version, record.variant) == (result.version, result.variant)
    files = {f.path: f for f in record.files}
    assert len(files) == len(record.files) == result.files
    lib = files["lib/libgood.so.1"]
    assert lib.sha256 == sha256_file(out / lib.path) and lib.runpath is not None
    assert all(f.sha256 == sha256_file(out / f.path) for f in record.files)
    assert record.left_out == ()


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"files": [{"path": "../../etc/passwd", "sha256": "0"}]}, "'..'"),
        ({"files": [{"path": "/etc/passwd", "sha256": "0"}]}, "is absolute"),
        ({"files": "lib/libgood.so.1"}, "'files' must be a list"),
        ({"files": [["lib/libgood.so.1"]]}, "must be an object"),
        ({"leftOut": [7]}, "'leftOut' must be a list of strings"),
        ({"version": None}, "'version' must be a str"),
    ],
)
def test_a_hostile_record_is_a_bundle_error_naming_the_file(tmp_path, change, words) -> None:
    src = tmp_path / "src"
    small_elf(src, "libgood.so.1")
    out = tmp_path / "out"
    make_bundle(src, out, quiet=True)
    path = out / BUNDLE_JSON_RELPATH
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    with pytest.raises(BundleError, match=BUNDLE_JSON_RELPATH) as caught:
        verify_bundle(out)
    assert words in str(caught.value)
    path.write_text("[]")
    with pytest.raises(BundleError, match="must hold a JSON object"):
        read_bundle_record(out)


def test_a_left_out_entry_is_its_path_and_why() -> None:
    entry = LeftOut.parse("onnxruntime/capi/libonnxruntime_providers_cuda.so (CUDA not selected)")
    assert entry == LeftOut(
        "onnxruntime/capi/libonnxruntime_providers_cuda.so", "CUDA not selected"
    )
    assert entry.name == "libonnxruntime_providers_cuda.so"

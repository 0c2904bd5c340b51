"""A prefix SRC (a distribution with a manifest, as the flake's cuda-dyn output has)."""

from __future__ import annotations

import json
from pathlib import Path

from ort_wrapper.bundle import BUNDLE_JSON_RELPATH
from ort_wrapper.bundle.write import make_bundle
from ort_wrapper.files import sha256_file
from ort_wrapper.manifest import FileEntry, Manifest, load_manifest
from ort_wrapper.matrix import RuntimeLoaded

from support.bundles import small_elf, tree_hashes


def _prefix(root: Path, cublas_dir: Path) -> Path:
    lib = root / "lib"
    core = small_elf(lib, "libonnxruntime.so.1")
    bridge = small_elf(lib, "libonnxruntime_providers_shared.so")
    provider = small_elf(lib, "libonnxruntime_providers_cuda.so", needed=("libfakecublas.so.12",))
    small_elf(cublas_dir, "libfakecublas.so.12")
    (root / "include").mkdir()
    (root / "include" / "onnxruntime_c_api.h").write_text("/* header */\n")
    files = [
        FileEntry(p.relative_to(root).as_posix(), kind, sha256_file(p), role)
        for p, kind, role in (
            (core, "shared", "core"),
            (bridge, "shared", "bridge"),
            (provider, "shared", "provider"),
            (root / "include" / "onnxruntime_c_api.h", "header", ""),
        )
    ]
    loaded = tuple(
        RuntimeLoaded(f"lib/{name}", "CUDAExecutionProvider", "lib/libonnxruntime.so.1")
        for name in ("libonnxruntime_providers_shared.so", "libonnxruntime_providers_cuda.so")
    )
    Manifest(
        version="1.23.2",
        variant="cuda-dyn",
        link_mode="shared",
        providers=("CUDAExecutionProvider", "CPUExecutionProvider"),
        files=tuple(files),
        runtime_loaded=loaded,
        include_dir="include",
    ).write(root)
    return root


def test_prefix_keeps_its_layout_and_bundles_the_runtime_closure(tmp_path: Path) -> None:
    src = _prefix(tmp_path / "prefix", tmp_path / "cublas")
    before = tree_hashes(src)
    out = tmp_path / "out"
    make_bundle(src, out, search_dirs=[tmp_path / "cublas"], quiet=True)
    assert tree_hashes(src) == before
    manifest = load_manifest(out)
    assert manifest.variant == "cuda-dyn" and manifest.include_dir == "include"
    assert [r.library for r in manifest.runtime_loaded] == [
        "lib/libonnxruntime_providers_shared.so",
        "lib/libonnxruntime_providers_cuda.so",
    ]
    assert (out / "include" / "onnxruntime_c_api.h").read_text() == "/* header */\n"
    data = json.loads((out / BUNDLE_JSON_RELPATH).read_text())
    files = {f["path"]: f for f in data["files"]}
    assert files["lib/libfakecublas.so.12"]["why"] == ["NEEDED by libonnxruntime_providers_cuda.so"]
    assert files["lib/libfakecublas.so.12"]["foundVia"] == "search-dir"
    provider = files["lib/libonnxruntime_providers_cuda.so"]
    assert provider["why"][:2] == [
        "part of the distribution",
        "runtime-loaded by libonnxruntime.so.1 (CUDAExecutionProvider)",
    ]
    assert data["source"] == {"path": str(src), "kind": "prefix", "variant": "cuda-dyn"}


def test_provider_selection_leaves_a_runtime_loaded_library_out(tmp_path: Path) -> None:
    src = _prefix(tmp_path / "prefix", tmp_path / "cublas")
    out = tmp_path / "out"
    make_bundle(src, out, providers=["cpu"], quiet=True)  # no --search-dir needed without CUDA
    manifest = load_manifest(out)
    assert manifest.runtime_loaded == ()
    assert not (out / "lib" / "libonnxruntime_providers_cuda.so").exists()
    assert not (out / "lib" / "libfakecublas.so.12").exists()
    data = json.loads((out / BUNDLE_JSON_RELPATH).read_text())
    assert "lib/libonnxruntime_providers_cuda.so (provider not selected)" in data["leftOut"]

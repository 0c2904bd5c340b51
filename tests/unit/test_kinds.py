"""Kinds are Enums in the code and the same strings in JSON as before they were."""

from __future__ import annotations

import json
from pathlib import Path

import onnxruntime

from ort_wrapper.elf.archive import ObjectSymbols
from ort_wrapper.elf.resolve import LibrarySource, resolve_closure
from ort_wrapper.finalize.resolve import Library, Origin, resolve
from ort_wrapper.manifest import FileEntry, FileKind, LinkMode, Manifest, parse_manifest

CORE = next((Path(onnxruntime.__file__).parent / "capi").glob("libonnxruntime.so.*"))


def test_a_manifest_reads_into_enums_and_writes_the_same_json() -> None:
    manifest = Manifest(
        version="1.23.2",
        variant="cpu",
        link_mode="static",  # plain strings are taken, and kept as the Enum
        providers=("CPUExecutionProvider",),
        files=(FileEntry("lib/libonnxruntime.a", "archive", "0" * 64, "core"),),
    )
    assert manifest.link_mode is LinkMode.STATIC and manifest.files[0].kind is FileKind.ARCHIVE
    text = json.dumps(manifest.to_json())
    assert '"linkMode": "static"' in text and '"kind": "archive"' in text
    again = parse_manifest(json.loads(text), "manifest.json")
    assert again == manifest and again.files[0].kind is FileKind.ARCHIVE
    assert json.dumps(again.to_json()) == text


def test_library_sources_are_enums_with_the_loader_rule_names() -> None:
    closure = resolve_closure(CORE)
    sources = {lib.source for lib in closure.libraries.values()}
    assert sources and all(isinstance(s, LibrarySource) for s in sources)
    assert {json.loads(json.dumps(s)) for s in sources} <= {
        "rpath", "runpath", "LD_LIBRARY_PATH", "search-dir", "ld.so.conf", "default", "missing"
    }  # fmt: skip


def test_a_symbol_is_taken_from_the_distribution_first_then_the_build_then_the_system() -> None:
    def library(name: str, origin: Origin) -> Library:
        return Library(name, f"/{origin}/lib{name}.a", True, origin, (obj,))

    obj = ObjectSymbols("f.o", frozenset({"f"}), frozenset())
    candidates = [
        library("s", Origin.SYSTEM),
        library("b", Origin.BUILD),
        library("d", Origin.DIST),
    ]
    assert [lib.name for lib in resolve(frozenset({"f"}), candidates).used] == ["d"]
    assert [lib.name for lib in resolve(frozenset({"f"}), candidates[:2]).used] == ["b"]
    assert json.dumps([c.origin for c in candidates]) == '["system", "build", "dist"]'

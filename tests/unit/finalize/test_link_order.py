"""Link order: symbol resolution from the C API, topological order, cycles grouped, abseil."""

from __future__ import annotations

from pathlib import Path

from conftest import FakeBuild

from ort_wrapper.elf.archive import ObjectSymbols, archive_symbols
from ort_wrapper.finalize.abseil import abseil_report, archive_graph
from ort_wrapper.finalize.archives import component_archives, merge_archives
from ort_wrapper.finalize.candidates import find_candidates
from ort_wrapper.finalize.linkorder import link_order, strongly_connected
from ort_wrapper.finalize.resolve import (
    Library,
    Origin,
    linked_without_pruning,
    public_api_symbols,
    resolve,
)


def test_strongly_connected_components() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"b", "d"}, "d": set()}
    assert strongly_connected(graph) == [("d",), ("b", "c"), ("a",)]


def test_link_order_puts_users_first_and_groups_cycles() -> None:
    graph = {"app": {"x", "y"}, "x": {"z"}, "y": {"z", "w"}, "z": {"w"}, "w": {"z"}, "lone": set()}
    assert link_order(graph) == [("app",), ("lone",), ("x",), ("y",), ("w", "z")]


def _root(fake_build: FakeBuild, tmp_path: Path) -> Library:
    merged = tmp_path / "libonnxruntime.a"
    merge_archives(component_archives(fake_build.prefix, fake_build.build_dir), merged)
    return Library("onnxruntime", str(merged), True, Origin.DIST, archive_symbols(merged))


def test_resolution_pulls_what_the_c_api_needs(fake_build: FakeBuild, tmp_path: Path) -> None:
    root = _root(fake_build, tmp_path)
    assert public_api_symbols(root) == {"OrtGetApiBase"}
    candidates = find_candidates(fake_build.prefix, fake_build.build_dir, [])
    res = resolve(public_api_symbols(root), [root, *candidates])
    used = {lib.name for lib in res.used}
    assert "absl_unused" not in used
    assert used == {
        "onnxruntime",
        "onnx",
        "protobuf",
        "re2",
        "absl_strings",
        "absl_log",
        "absl_base",
        "absl_synchronization",
    }
    # the utility members nobody calls are not pulled
    assert len(res.pulled["onnxruntime"]) == 2 and not res.unresolved
    assert res.graph["absl_base"] == {"absl_synchronization"}
    assert res.graph["absl_synchronization"] == {"absl_base"}
    report = abseil_report(candidates, res)
    assert report.discovered == 5 and len(report.referenced) == 4
    assert report.cycles == (("absl_base", "absl_synchronization"),)


def test_archive_graph_sees_every_member(fake_build: FakeBuild) -> None:
    candidates = find_candidates(fake_build.prefix, fake_build.build_dir, [])
    graph = archive_graph(candidates)
    assert graph["absl_unused"] == set()
    assert graph["re2"] == {"absl_strings"}


def _lib(name: str, defined: set[str], undefined: set[str], *, static: bool, needed=()) -> Library:
    obj = ObjectSymbols(name, frozenset(defined), frozenset(undefined))
    return Library(name, f"/usr/lib/lib{name}", static, Origin.SYSTEM, (obj,), tuple(needed))


def test_a_library_a_shared_dependency_needs_is_linked_shared() -> None:
    root = Library(
        "onnxruntime",
        "lib/libonnxruntime.a",
        True,
        Origin.DIST,
        (ObjectSymbols("core.o", frozenset({"OrtGetApiBase"}), frozenset({"onnx", "pb"})),),
    )
    onnx = _lib("onnx", {"onnx"}, {"pb"}, static=False, needed=["libprotobuf.so.32"])
    pb_static = _lib("protobuf", {"pb"}, set(), static=True)
    pb_shared = _lib("protobuf", {"pb"}, set(), static=False)
    # a static copy of part of protobuf (like protobuf-lite) must not come in beside it
    lite = _lib("protobuf-lite", {"pb"}, set(), static=True)
    res = resolve(frozenset({"OrtGetApiBase"}), [root, onnx, lite, pb_static, pb_shared])
    assert [lib.key for lib in res.used] == ["onnxruntime", "onnx.so", "protobuf.so"]
    assert res.forced_shared == {"protobuf"}
    assert res.excluded == {"protobuf-lite", "protobuf"}
    # without the shared user, the static archive is preferred
    res = resolve(
        frozenset({"OrtGetApiBase"}),
        [root, pb_static, pb_shared, _lib("onnx", {"onnx"}, set(), static=True)],
    )
    assert {lib.key for lib in res.used} == {"onnxruntime", "onnx", "protobuf"}


def test_a_link_without_pruning_leaves_out_what_resolve_excluded() -> None:
    """Keeping every archive still never links protobuf-lite (static or shared) beside the
    shared protobuf a shared dependency needs, nor protobuf twice."""
    root = Library(
        "onnxruntime",
        "lib/libonnxruntime.a",
        True,
        Origin.DIST,
        (ObjectSymbols("core.o", frozenset({"OrtGetApiBase"}), frozenset({"onnx", "pb"})),),
    )
    candidates = [
        root,
        _lib("onnx", {"onnx"}, {"pb"}, static=False, needed=["libprotobuf.so.32"]),
        _lib("protobuf-lite", {"pb"}, set(), static=True),
        _lib("protobuf-lite", {"pb"}, set(), static=False),
        _lib("protobuf", {"pb"}, set(), static=True),
        _lib("protobuf", {"pb"}, set(), static=False),
        _lib("re2", {"re2"}, set(), static=True),  # unused: kept without pruning
        _lib("re2", {"re2"}, set(), static=False),
    ]
    res = resolve(frozenset({"OrtGetApiBase"}), candidates)
    keys = [lib.key for lib in linked_without_pruning(res)]
    assert res.excluded == {"protobuf-lite", "protobuf"}
    assert keys == ["onnxruntime", "onnx.so", "protobuf.so", "re2"]

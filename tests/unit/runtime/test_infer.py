"""infer(): one-shot runs over a bounded LRU of sessions."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import ort_wrapper as ow
from ort_wrapper.runtime import infer as infer_module

import models

X = np.ones((2, 3), np.float32)


@pytest.fixture(autouse=True)
def _clean_cache():
    ow.infer.cache_clear()
    yield
    ow.infer.cache_clear()


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    seen: list[object] = []
    original = infer_module._build

    def counting(model, providers, options):
        seen.append(model)
        return original(model, providers, options)

    monkeypatch.setattr(infer_module, "_build", counting)
    return seen


def test_a_loop_builds_one_session(add_model_path: Path, builds: list[object]) -> None:
    for _ in range(20):
        out = ow.infer(add_model_path, {"X": X, "Y": X})
    np.testing.assert_array_equal(out["Z"], X + X)
    assert len(builds) == 1


def test_bytes_are_keyed_by_content(builds: list[object]) -> None:
    data = models.add_model().SerializeToString()
    ow.infer(data, {"X": X, "Y": X})
    ow.infer(bytes(bytearray(data)), {"X": X, "Y": X})
    assert len(builds) == 1


def test_a_changed_file_is_reloaded(tmp_path: Path, builds: list[object]) -> None:
    path = models.save(models.add_model(), tmp_path / "m.onnx")
    ow.infer(path, {"X": X, "Y": X})
    models.save(models.add_model(shape=(1, 3)), path)
    os.utime(path, ns=(1, 1))
    out = ow.infer(path, {"X": X[:1], "Y": X[:1]})
    assert out["Z"].shape == (1, 3) and len(builds) == 2


def test_options_and_providers_are_part_of_the_key(add_model_path: Path, builds: list) -> None:
    ow.infer(add_model_path, {"X": X, "Y": X})
    ow.infer(add_model_path, {"X": X, "Y": X}, providers="cpu")
    ow.infer(add_model_path, {"X": X, "Y": X}, intra_op_threads=1)
    ow.infer(add_model_path, {"X": X, "Y": X}, intra_op_threads=1)
    assert len(builds) == 3


def test_the_cache_is_bounded(tmp_path: Path) -> None:
    for i in range(infer_module.CACHE_SIZE + 5):
        path = models.save(models.add_model(), tmp_path / f"m{i}.onnx")
        ow.infer(path, {"X": X, "Y": X})
    assert ow.infer.cache_info() == {
        "size": infer_module.CACHE_SIZE,
        "max": infer_module.CACHE_SIZE,
    }


def test_a_session_is_used_as_is(add_model_path: Path, builds: list) -> None:
    session = ow.SessionBuilder.from_file(add_model_path).build()
    np.testing.assert_array_equal(ow.infer(session, {"X": X, "Y": X})["Z"], X + X)
    assert builds == []


def test_bad_model_argument_and_option() -> None:
    with pytest.raises(ow.ModelLoadError, match="takes a model path, bytes or a Session, got int"):
        ow.infer(3, {})
    with pytest.raises(TypeError, match="unknown option 'threads'"):
        ow.infer(models.add_model().SerializeToString(), {}, threads=2)


def test_errors_pass_through_typed(tmp_path: Path) -> None:
    with pytest.raises(ow.ModelLoadError, match="no such file"):
        ow.infer(tmp_path / "missing.onnx", {})
    with pytest.raises(ow.InputError, match="missing input"):
        ow.infer(models.add_model().SerializeToString(), {"X": X})


def test_an_in_place_rewrite_that_keeps_mtime_is_reloaded(tmp_path: Path) -> None:
    from onnx import TensorProto, helper

    path = models.save(models.add_model(), tmp_path / "m.onnx")
    assert ow.infer(path, {"X": X, "Y": X})["Z"].tolist() == (X + X).tolist()
    st = os.stat(path)
    sub = models.add_model()
    sub.graph.node[0].op_type = "Sub"  # same size on disk, different answer
    data = sub.SerializeToString()
    assert len(data) == st.st_size
    path.write_bytes(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # as cp -p / rsync -t do
    assert os.stat(path).st_mtime_ns == st.st_mtime_ns
    assert ow.infer(path, {"X": X, "Y": X})["Z"].tolist() == [[0.0] * 3] * 2
    del TensorProto, helper


def test_least_recently_used_is_evicted(tmp_path: Path) -> None:
    paths = [models.save(models.add_model(), tmp_path / f"m{i}.onnx") for i in range(9)]
    for path in paths[:8]:
        ow.infer(path, {"X": X, "Y": X})
    ow.infer(paths[0], {"X": X, "Y": X})  # touch the oldest
    ow.infer(paths[8], {"X": X, "Y": X})  # evicts the least recently used: paths[1]
    cached = {key[0] for key in infer_module._cache}
    assert paths[0] in cached and paths[1] not in cached and paths[8] in cached


def test_threads_share_the_cache(add_model_path: Path, builds: list) -> None:
    import threading

    results, barrier = [], threading.Barrier(4)

    def worker() -> None:
        barrier.wait()
        for _ in range(100):
            results.append(ow.infer(add_model_path, {"X": X, "Y": X})["Z"])

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 400 and all((r == X + X).all() for r in results)
    assert len(builds) == 1


def test_strict_needs_providers_and_flags_work(add_model_path: Path) -> None:
    with pytest.raises(TypeError, match="strict=True needs providers"):
        ow.infer(add_model_path, {"X": X, "Y": X}, strict=True)
    assert ow.infer(add_model_path, {"X": X, "Y": X}, prefer_gpu=True)["Z"].shape == (2, 3)


def test_a_repeated_call_notices_a_rewrite(tmp_path: Path, builds: list) -> None:
    path = models.save(models.add_model(), tmp_path / "m.onnx")
    for _ in range(3):  # the second and third calls repeat the first: the fastest path
        assert ow.infer(path, {"X": X, "Y": X})["Z"].tolist() == (X + X).tolist()
    sub = models.add_model()
    sub.graph.node[0].op_type = "Sub"
    models.save(sub, path)
    assert ow.infer(path, {"X": X, "Y": X})["Z"].tolist() == [[0.0] * 3] * 2
    assert len(builds) == 2
    ow.infer(path, {"X": X, "Y": X})
    path.unlink()
    with pytest.raises(ow.ModelLoadError, match="no such file"):
        ow.infer(path, {"X": X, "Y": X})


def test_a_repeated_call_stays_most_recent(tmp_path: Path) -> None:
    paths = [models.save(models.add_model(), tmp_path / f"m{i}.onnx") for i in range(16)]
    for path in paths[:8]:
        ow.infer(path, {"X": X, "Y": X})
    ow.infer(paths[0], {"X": X, "Y": X})
    ow.infer(paths[0], {"X": X, "Y": X})  # a repeat of the last call
    ow.infer(paths[8], {"X": X, "Y": X})  # a miss: evicts paths[1]
    ow.infer(paths[0], {"X": X, "Y": X})  # paths[0] is now more recent than paths[8]
    for path in paths[9:]:
        ow.infer(path, {"X": X, "Y": X})  # seven misses: evict paths[2:8] and paths[8]
    cached = {key[0] for key in infer_module._cache}
    assert paths[0] in cached and paths[8] not in cached


def test_mutable_arguments_are_never_taken_as_a_repeat(add_model_path: Path) -> None:
    providers = ["cpu"]
    for _ in range(2):
        ow.infer(add_model_path, {"X": X, "Y": X}, providers=providers)
    assert infer_module._last is None  # compared by identity, a list could change in between
    for _ in range(2):
        ow.infer(add_model_path, {"X": X, "Y": X}, providers=("cpu",))
    assert infer_module._last is not None

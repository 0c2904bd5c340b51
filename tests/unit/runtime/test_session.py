"""SessionBuilder and Session: models, inputs, providers, threads."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import numpy as np
import pytest

import ort_wrapper as ow

import models

ADD = models.add_model().SerializeToString()
X = np.arange(6, dtype=np.float32).reshape(2, 3)


def _add() -> ow.Session:
    return ow.SessionBuilder.from_bytes(ADD).build()


# --- bad models -------------------------------------------------------------------------------


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(ow.ModelLoadError, match=r"nope\.onnx: no such file"):
        ow.SessionBuilder.from_file(tmp_path / "nope.onnx").build()


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(ow.ModelLoadError, match="is a directory, expected an ONNX model file"):
        ow.SessionBuilder.from_file(tmp_path).build()


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.onnx").write_bytes(b"")
    with pytest.raises(ow.ModelLoadError, match=r"empty\.onnx is empty \(0 bytes\)"):
        ow.SessionBuilder.from_file(tmp_path / "empty.onnx").build()


def test_truncated_file_names_path_and_ort_reason(tmp_path: Path) -> None:
    path = tmp_path / "cut.onnx"
    path.write_bytes(ADD[: len(ADD) // 2])
    with pytest.raises(ow.ModelLoadError) as err:
        ow.SessionBuilder.from_file(path).build()
    assert str(path) in str(err.value) and "protobuf parsing failed" in str(err.value).lower()


def test_random_bytes_are_labelled_by_size() -> None:
    data = np.random.default_rng(1).bytes(257)
    with pytest.raises(ow.ModelLoadError, match=r"cannot load <bytes: 257>: .*INVALID"):
        ow.SessionBuilder.from_bytes(data).build()


def test_from_bytes_rejects_non_bytes() -> None:
    with pytest.raises(ow.ModelLoadError, match="from_bytes expects bytes, got str"):
        ow.SessionBuilder.from_bytes("model.onnx")  # type: ignore[arg-type]


def test_file_and_bytes_give_the_same_result(add_model_path: Path) -> None:
    a = ow.SessionBuilder.from_file(add_model_path).build().run({"X": X, "Y": X})
    b = _add().run({"X": X, "Y": X})
    np.testing.assert_array_equal(a["Z"], b["Z"])
    np.testing.assert_array_equal(a["Z"], X + X)


# --- inputs -----------------------------------------------------------------------------------

SIGNATURE = "Expected inputs: X: tensor(float) [2, 3], Y: tensor(float) [2, 3]"


@pytest.mark.parametrize(
    ("feeds", "message"),
    [
        ({"X": X}, "missing input(s) 'Y'"),
        ({"X": X, "Y": X, "W": X}, "unknown input(s) 'W'"),
        ({"X": X, "W": X}, "unknown input(s) 'W'; missing input(s) 'Y'"),
        ({"X": X.astype(np.float64), "Y": X}, "input 'X' has dtype float64, expected float32"),
        ({"X": X[None], "Y": X}, "input 'X' has rank 3 (shape [1, 2, 3]), expected rank 2"),
        ({"X": np.zeros((2, 4), np.float32), "Y": X}, "input 'X' has size 4 on axis 1, expected 3"),
    ],
)
def test_input_errors_name_the_input_and_list_the_signature(feeds: dict, message: str) -> None:
    with pytest.raises(ow.InputError) as err:
        _add().run(feeds)
    assert message in str(err.value)
    assert SIGNATURE in str(err.value)


def test_bare_array_needs_a_one_input_model() -> None:
    with pytest.raises(ow.InputError, match="feeds must be a dict of input name -> array"):
        _add().run(X)


def test_bare_array_for_a_one_input_model(mlp_model_path: Path) -> None:
    session = ow.SessionBuilder.from_file(mlp_model_path).build()
    x = np.ones((3, 64), np.float32)
    np.testing.assert_array_equal(session.run(x)["Y"], session.run({"X": x})["Y"])


def test_non_contiguous_inputs_give_the_right_answer() -> None:
    y = np.arange(12, dtype=np.float32).reshape(3, 4).T[:2, :3]
    assert not y.flags.c_contiguous
    np.testing.assert_array_equal(_add().run({"X": X, "Y": y})["Z"], X + y)


def test_signature_is_exposed() -> None:
    session = _add()
    assert [(i.name, i.type, i.dtype, i.shape) for i in session.inputs] == [
        ("X", "tensor(float)", np.dtype("float32"), (2, 3)),
        ("Y", "tensor(float)", np.dtype("float32"), (2, 3)),
    ]
    assert [o.name for o in session.outputs] == ["Z"]


def test_one_session_from_eight_threads_matches_single_threaded(mlp_model_path: Path) -> None:
    session = ow.SessionBuilder.from_file(mlp_model_path).build()
    rng = np.random.default_rng(0)
    batches = [rng.standard_normal((4, 64)).astype(np.float32) for _ in range(8)]
    expected = [session.run({"X": b})["Y"] for b in batches]
    results: dict[tuple[int, int], np.ndarray] = {}
    barrier = threading.Barrier(8)

    def worker(t: int) -> None:
        barrier.wait()
        for i in range(50):
            results[(t, i)] = session.run({"X": batches[(t + i) % 8]})["Y"]

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 400
    for (t, i), value in results.items():
        np.testing.assert_array_equal(value, expected[(t + i) % 8])


# --- providers --------------------------------------------------------------------------------


def test_builder_methods_return_the_builder() -> None:
    builder = ow.SessionBuilder.from_bytes(ADD)
    for call in (
        lambda b: b.cpu_only(),
        lambda b: b.prefer_gpu(),
        lambda b: b.intra_op_threads(1),
        lambda b: b.optimization_level("basic"),
        lambda b: b.deterministic(True),
        lambda b: b.with_providers("cpu"),
    ):
        assert call(builder) is builder


def test_aliases_and_ort_spelling_are_the_same_provider() -> None:
    a = ow.SessionBuilder.from_bytes(ADD).with_providers("cpu").build()
    b = ow.SessionBuilder.from_bytes(ADD).with_providers("CPUExecutionProvider").build()
    assert a.requested_providers == b.requested_providers == ("CPUExecutionProvider",)
    assert a.providers == ("CPUExecutionProvider",) and a.fallbacks == ()


def test_unknown_provider_is_a_clear_error() -> None:
    with pytest.raises(ow.ProviderUnavailableError, match="unknown execution provider 'cdua'"):
        ow.SessionBuilder.from_bytes(ADD).with_providers("cdua")


def test_fallback_is_recorded_and_warned_once(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="ort_wrapper"):
        session = ow.SessionBuilder.from_bytes(ADD).with_providers("cuda", "cpu").build()
    assert session.providers == ("CPUExecutionProvider",)
    assert session.requested_providers == ("CUDAExecutionProvider", "CPUExecutionProvider")
    [fallback] = session.fallbacks
    assert fallback.provider == "CUDAExecutionProvider"
    assert "not compiled into this ONNX Runtime" in fallback.reason
    assert len([r for r in caplog.records if "instead of CUDAExecutionProvider" in r.message]) == 1


def test_strict_raises_with_the_reason() -> None:
    with pytest.raises(ow.ProviderUnavailableError) as err:
        ow.SessionBuilder.from_bytes(ADD).with_providers("cuda", "cpu", strict=True).build()
    assert "CUDAExecutionProvider is not compiled into this ONNX Runtime" in str(err.value)
    assert [f.provider for f in err.value.fallbacks] == ["CUDAExecutionProvider"]


def test_require_gpu_raises_on_a_cpu_build() -> None:
    with pytest.raises(ow.ProviderUnavailableError, match="no GPU provider in use") as err:
        ow.SessionBuilder.from_bytes(ADD).require_gpu().build()
    # every GPU provider of the platform is named with its reason
    assert {f.provider for f in err.value.fallbacks} >= {
        "CUDAExecutionProvider",
        "TensorrtExecutionProvider",
    }
    assert "CUDAExecutionProvider is not compiled into this ONNX Runtime" in str(err.value)


def test_prefer_gpu_falls_back_to_cpu_with_reasons() -> None:
    session = ow.SessionBuilder.from_bytes(ADD).prefer_gpu().build()
    assert session.providers == ("CPUExecutionProvider",)
    reasons = {f.provider: f.reason for f in session.fallbacks}
    assert "not compiled into this ONNX Runtime" in reasons["CUDAExecutionProvider"]
    np.testing.assert_array_equal(session.run({"X": X, "Y": X})["Z"], X + X)


def test_options_are_validated() -> None:
    builder = ow.SessionBuilder.from_bytes(ADD)
    with pytest.raises(ow.InputError, match="intra_op_threads expects an integer >= 0"):
        builder.intra_op_threads(-1)
    with pytest.raises(ow.InputError, match="optimization_level expects one of"):
        builder.optimization_level("max")


def test_options_reach_onnxruntime() -> None:
    session = (
        ow.SessionBuilder.from_bytes(ADD)
        .intra_op_threads(1)
        .optimization_level("disable")
        .deterministic()
        .build()
    )
    options = session.ort_session.get_session_options()
    assert options.intra_op_num_threads == 1
    assert options.use_deterministic_compute is True
    assert options.graph_optimization_level == ow.ort.GraphOptimizationLevel.ORT_DISABLE_ALL


def test_string_tensors() -> None:
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("S", TensorProto.STRING, [2])
    y = helper.make_tensor_value_info("T", TensorProto.STRING, [2])
    graph = helper.make_graph([helper.make_node("Identity", ["S"], ["T"])], "s", [x], [y])
    model = models._model(graph).SerializeToString()
    session = ow.SessionBuilder.from_bytes(model).build()
    assert session.run(np.array(["a", "bc"], dtype=object))["T"].tolist() == ["a", "bc"]
    expected = "input 'S' has dtype float32, expected a string tensor (str values: np.array("
    with pytest.raises(ow.InputError, match=re.escape(expected)) as raised:
        session.run(np.zeros(2, np.float32))
    assert "dtype=object) or a list of str)" in str(raised.value)


def test_overridable_initializers_are_optional_inputs() -> None:
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [2])
    w_in = helper.make_tensor_value_info("W", TensorProto.FLOAT, [2])
    z = helper.make_tensor_value_info("Z", TensorProto.FLOAT, [2])
    w = helper.make_tensor("W", TensorProto.FLOAT, [2], [10.0, 20.0])
    graph = helper.make_graph(
        [helper.make_node("Add", ["X", "W"], ["Z"])], "o", [x, w_in], [z], initializer=[w]
    )
    session = ow.SessionBuilder.from_bytes(models._model(graph).SerializeToString()).build()
    one = np.ones(2, np.float32)
    assert session.run({"X": one})["Z"].tolist() == [11.0, 21.0]
    assert session.run({"X": one, "W": one})["Z"].tolist() == [2.0, 2.0]
    assert "optional: W: tensor(float) [2]" in session.signature()
    with pytest.raises(ow.InputError, match="unknown input"):
        session.run({"X": one, "V": one})


def test_ragged_feeds_are_an_input_error() -> None:
    with pytest.raises(ow.InputError, match="input 'X' is not an array"):
        _add().run({"X": [[1.0, 2.0], [3.0]], "Y": X})


def test_malformed_provider_arguments_say_how_to_pass_them() -> None:
    with pytest.raises(TypeError, match=r"unpack a list with \*providers"):
        ow.SessionBuilder.from_bytes(ADD).with_providers(["cuda", "cpu"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="provider names or"):
        ow.SessionBuilder.from_bytes(ADD).with_providers(("cuda",))  # type: ignore[arg-type]

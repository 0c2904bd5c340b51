"""Hostile models and feeds: external data outside the model's directory is refused (a
ModelLoadError naming the tensor and location), feeds ONNX Runtime would misread are converted
or refused, and an unreadable model says "permission denied"."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from ort_wrapper import SessionBuilder, infer
from ort_wrapper.errors import InputError, ModelLoadError

import models
from support.hostile import NO_DAC_OVERRIDE, assert_refused, changed, cli, python_env, snapshot

SECRET = np.arange(1, 7, dtype=np.float32)  # what a hostile model would read out


def _layout(tmp_path: Path, location: str, **kwargs: bool) -> Path:
    (tmp_path / "secret.bin").write_bytes(SECRET.tobytes())
    return models.external_data_model(tmp_path / "model" / "m.onnx", location, **kwargs)


X = np.zeros((2, 3), np.float32)


@pytest.mark.parametrize("location", ["../secret.bin", "ABSOLUTE", "inside/../../secret.bin"])
@pytest.mark.parametrize("as_constant", [False, True])
def test_external_data_outside_the_model_directory_is_refused(
    tmp_path: Path, location: str, as_constant: bool
) -> None:
    location = str(tmp_path / "secret.bin") if location == "ABSOLUTE" else location
    model = _layout(tmp_path, location, as_constant=as_constant)
    before = snapshot(tmp_path)
    with pytest.raises(ModelLoadError, match=rf"tensor 'W' reads external data from '{location}'"):
        SessionBuilder.from_file(model).build()
    with pytest.raises(ModelLoadError, match="outside the model's directory"):
        infer(model, {"X": X})
    assert changed(before, snapshot(tmp_path)) == []


def test_a_symlink_in_the_model_directory_leading_out_is_refused(tmp_path: Path) -> None:
    model = _layout(tmp_path, "w.bin")
    (model.parent / "w.bin").symlink_to(tmp_path / "secret.bin")
    with pytest.raises(ModelLoadError, match=r"tensor 'W' reads external data from 'w\.bin'"):
        SessionBuilder.from_file(model).build()


def test_external_data_inside_the_directory_and_trusted_models_load(tmp_path: Path) -> None:
    model = _layout(tmp_path, "w.bin")
    (model.parent / "w.bin").write_bytes(SECRET.tobytes())
    session = SessionBuilder.from_file(model).build()
    assert np.array_equal(session.run({"X": X})["Y"], SECRET.reshape(2, 3))
    outside = models.external_data_model(tmp_path / "model" / "trusted.onnx", "../secret.bin")
    trusted = SessionBuilder.from_file(outside).trust_external_data().build()
    assert np.array_equal(trusted.run({"X": X})["Y"], SECRET.reshape(2, 3))


def test_a_bytes_model_with_external_data_is_refused(tmp_path: Path) -> None:
    model = _layout(tmp_path, str(tmp_path / "secret.bin"))
    with pytest.raises(ModelLoadError, match="a model given as bytes has no directory"):
        SessionBuilder.from_bytes(model.read_bytes()).build()


def test_the_wire_reader_agrees_with_onnx(tmp_path: Path) -> None:
    from ort_wrapper.runtime.modelcheck import check_external_data, external_locations

    model = _layout(tmp_path, "a/b.bin")
    assert external_locations(model.read_bytes()) == [("W", "a/b.bin")]
    plain = models.matmul_model().SerializeToString()
    assert external_locations(plain) == []
    with pytest.raises(ModelLoadError, match="cannot account for every field"):
        check_external_data(b"location" + bytes(range(256)), "garbage")
    loaded = onnx.load(str(model), load_external_data=False)
    assert loaded.graph.initializer[0].external_data[0].value == "a/b.bin"


def test_tensors_in_subgraphs_are_found() -> None:
    """An If's branch holding the external tensor: a Constant in a subgraph of an attribute."""
    from ort_wrapper.runtime.modelcheck import external_locations

    w = helper.make_tensor("W", TensorProto.FLOAT, [1], [0.0])
    w.data_location = TensorProto.EXTERNAL
    w.external_data.add(key="location", value="/etc/passwd")
    out = helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1])
    branch = helper.make_graph([helper.make_node("Constant", [], ["Y"], value=w)], "b", [], [out])
    cond = helper.make_tensor_value_info("C", TensorProto.BOOL, [])
    node = helper.make_node("If", ["C"], ["Y"], then_branch=branch, else_branch=branch)
    model = helper.make_model(helper.make_graph([node], "g", [cond], [out]))
    assert external_locations(model.SerializeToString()) == [("W", "/etc/passwd")] * 2


def test_check_refuses_such_a_model(tmp_path: Path) -> None:
    model = _layout(tmp_path, "../secret.bin")
    done = cli("check", "--only", "determinism", "--quiet", "--model", str(model), timeout=300)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "reads external data from '../secret.bin'" in done.stdout


def _add_session():
    return SessionBuilder.from_bytes(models.add_model().SerializeToString()).build()


def _string_session():
    io = [helper.make_tensor_value_info(n, TensorProto.STRING, [2]) for n in "XY"]
    graph = helper.make_graph([helper.make_node("Identity", ["X"], ["Y"])], "s", io[:1], io[1:])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", models.OPSET)])
    model.ir_version = models.IR_VERSION
    return SessionBuilder.from_bytes(model.SerializeToString()).build()


def test_a_big_endian_feed_is_read_by_value() -> None:
    x = np.ones((2, 3), dtype=">f4")
    out = _add_session().run({"X": x, "Y": np.ones((2, 3), np.float32)})["Z"]
    assert np.array_equal(out, np.full((2, 3), 2, np.float32))


@pytest.mark.parametrize(
    "feed",
    [
        np.array([b"hello", b"world"]),
        np.array([b"hello", b"world"], dtype=object),
        [b"hello", b"world"],
        np.array(["hello", "world"]).astype(">U5"),
    ],
    ids=["S5", "object-bytes", "list-bytes", "big-endian-U"],
)
def test_bytes_strings_are_decoded(feed: object) -> None:
    assert list(_string_session().run({"X": feed})["Y"]) == ["hello", "world"]


def test_one_byte_strings_do_not_read_past_the_array() -> None:
    assert list(_string_session().run({"X": np.array([b"a", b"b"], dtype="S1")})["Y"]) == [
        "a",
        "b",
    ]


def test_bytes_that_are_not_utf8_are_an_input_error() -> None:
    with pytest.raises(InputError, match="input 'X' holds bytes that are not UTF-8"):
        _string_session().run({"X": np.array([b"\xff", b"a"])})


def test_an_unreadable_model_is_permission_denied(tmp_path: Path) -> None:
    model = models.save(models.add_model(), tmp_path / "add.onnx")
    model.chmod(0)
    code = (
        "from ort_wrapper import SessionBuilder\n"
        "from ort_wrapper.errors import ModelLoadError\n"
        f"try:\n    SessionBuilder.from_file({str(model)!r}).build()\n"
        "except ModelLoadError as exc:\n    print(exc)\n"
    )
    done = subprocess.run(
        [*NO_DAC_OVERRIDE, sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=python_env(),
        check=False,
    )
    assert f"{model}: permission denied" in done.stdout, done.stdout + done.stderr


@pytest.mark.parametrize("content", [None, b"", b"\x0a\xff\xff\xff\xff garbage"])
def test_build_for_models_refuses_a_bad_model_before_building(
    tmp_path: Path, content: bytes | None
) -> None:
    """``build --for-models`` reads every model before the lab starts: a missing, empty or
    corrupt file is a typed error naming it, and nothing is built or written."""
    model = tmp_path / "model.onnx"
    if content is not None:
        model.write_bytes(content)
    before = snapshot(tmp_path)
    proc = cli("build", "--variant", "cpu", "--for-models", str(model), timeout=60)
    assert_refused(proc, str(model))
    assert changed(before, snapshot(tmp_path)) == []


NUL_FEEDS = """
import json, numpy as np, ort_wrapper as ow
from onnx import TensorProto, helper
if LIB:
    ow.init(LIB)
io = [helper.make_tensor_value_info(n, TensorProto.STRING, [2]) for n in "XY"]
graph = helper.make_graph([helper.make_node("Identity", ["X"], ["Y"])], "s", io[:1], io[1:])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
model.ir_version = 10
session = ow.SessionBuilder.from_bytes(model.SerializeToString()).build()
feeds = [np.array(["a\\0b", "c"]), np.array(["a\\0b", "c"], dtype=object), [b"a\\0b", b"c"]]
print(json.dumps([session.run({"X": f})["Y"].tolist() for f in feeds]))
"""


@pytest.mark.parametrize("backend", ["pybind", "capi"])
def test_strings_with_a_nul_byte_come_back_whole(tmp_path: Path, backend: str) -> None:
    """A string feed holding a NUL byte is not cut there, through either backend."""
    from support.real_libraries import wheel_library_dir

    lib = str(wheel_library_dir(tmp_path / "capi")) if backend == "capi" else ""
    done = subprocess.run(
        [sys.executable, "-c", f"LIB = {lib!r}\n" + NUL_FEEDS],
        capture_output=True,
        text=True,
        env=python_env(),
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == [["a\0b", "c"]] * 3

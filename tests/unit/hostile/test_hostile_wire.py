"""The model wire reader accounts for every field as protobuf does: unknown fields of any wire
type, groups nested in groups, anywhere in the model, hide no external-data location from it;
bytes it cannot account for, in a model that names a location, refuse the model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper

from ort_wrapper import SessionBuilder
from ort_wrapper.errors import ModelLoadError
from ort_wrapper.runtime.modelcheck import check_external_data, external_locations

import models
from support.hostile import assert_refused

SECRET = np.arange(1, 7, dtype=np.float32)
MODEL_FIELDS = {1, 2, 3, 4, 5, 6, 7, 8, 14, 20, 25, 26}  # onnx.proto's ModelProto
GRAPH_FIELDS = {1, 2, 5, 10, 11, 12, 13, 14, 15, 16}  # GraphProto


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, wire: int, payload: bytes) -> bytes:
    return _varint(number << 3 | wire) + payload


def _parts(location: str) -> tuple[list[bytes], list[bytes]]:
    """Y = X + W with W's data at ``location``: the ModelProto's fields (graph last) and the
    GraphProto's fields, each serialised alone (protobuf concatenates fields)."""
    w = helper.make_tensor("W", TensorProto.FLOAT, [2, 3], np.zeros(6, np.float32))
    w.ClearField("float_data")
    w.data_location = TensorProto.EXTERNAL
    w.external_data.add(key="location", value=location)
    graph = [
        onnx.GraphProto(node=[helper.make_node("Add", ["X", "W"], ["Y"])]),
        onnx.GraphProto(name="g"),
        onnx.GraphProto(initializer=[w]),
        onnx.GraphProto(input=[helper.make_tensor_value_info("X", TensorProto.FLOAT, [2, 3])]),
        onnx.GraphProto(output=[helper.make_tensor_value_info("Y", TensorProto.FLOAT, [2, 3])]),
    ]
    model = [
        onnx.ModelProto(ir_version=models.IR_VERSION),
        onnx.ModelProto(opset_import=[helper.make_opsetid("", models.OPSET)]),
    ]
    return [m.SerializeToString() for m in model], [g.SerializeToString() for g in graph]


def _join(model: list[bytes], graph: bytes) -> bytes:
    return b"".join(model) + _field(7, 2, _varint(len(graph)) + graph)


def _protobuf_locations(data: bytes) -> list[tuple[str, str]]:
    parsed = onnx.ModelProto.FromString(data)
    return [
        (t.name, e.value)
        for t in parsed.graph.initializer
        for e in t.external_data
        if e.key == "location"
    ]


@st.composite
def unknown_fields(draw: st.DrawFn, known: frozenset[int], depth: int = 0) -> bytes:
    """One field protobuf does not know in a message whose fields are ``known``: any wire type,
    a group holding more of them."""
    number = draw(st.integers(1, (1 << 29) - 1).filter(lambda n: n not in known))
    wire = draw(st.sampled_from([0, 1, 2, 5, 3] if depth < 3 else [0, 1, 2, 5]))
    if wire == 0:
        return _field(number, 0, _varint(draw(st.integers(0, (1 << 64) - 1))))
    if wire in (1, 5):
        size = 8 if wire == 1 else 4
        return _field(number, wire, draw(st.binary(min_size=size, max_size=size)))
    if wire == 2:
        payload = draw(st.binary(max_size=24))
        return _field(number, 2, _varint(len(payload)) + payload)
    inner = draw(st.lists(unknown_fields(frozenset(), depth + 1), max_size=3))
    return _field(number, 3, b"".join(inner)) + _varint(number << 3 | 4)


def _interleave(draw: st.DrawFn, parts: list[bytes], known: frozenset[int]) -> list[bytes]:
    out = []
    for part in parts:
        out += draw(st.lists(unknown_fields(known), max_size=2))
        out.append(part)
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_unknown_fields_anywhere_hide_no_location(data: st.DataObject) -> None:
    model, graph = _parts("../secret.bin")
    graph_bytes = b"".join(_interleave(data.draw, graph, frozenset(GRAPH_FIELDS)))
    wire = _join(_interleave(data.draw, model, frozenset(MODEL_FIELDS)), graph_bytes)
    assert external_locations(wire) == _protobuf_locations(wire) == [("W", "../secret.bin")]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64), st.binary(max_size=64))
def test_arbitrary_bytes_are_read_or_refused(head: bytes, tail: bytes) -> None:
    """Any bytes naming a location: a typed refusal or the locations, never another error."""
    try:
        check_external_data(head + b"location" + tail, "bytes")
    except ModelLoadError as exc:
        assert "refused" in str(exc)


def _group_prefixed(tmp_path: Path) -> Path:
    """The issue's model: 4 bytes (an unknown group field, 100) in front of a model whose W
    reads ../secret.bin."""
    (tmp_path / "secret.bin").write_bytes(SECRET.tobytes())
    model, graph = _parts("../secret.bin")
    path = tmp_path / "model" / "m.onnx"
    path.parent.mkdir()
    prefix = _field(100, 3, b"") + _varint(100 << 3 | 4)
    assert len(prefix) == 4
    path.write_bytes(prefix + _join(model, b"".join(graph)))
    assert _protobuf_locations(path.read_bytes()) == [("W", "../secret.bin")]  # what ORT sees
    return path


def test_a_group_in_front_of_the_model_hides_nothing(run_cli, tmp_path: Path) -> None:
    model = _group_prefixed(tmp_path)
    with pytest.raises(ModelLoadError, match=r"tensor 'W' reads external data from '\.\./secret"):
        SessionBuilder.from_file(model).build()
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((2, 3), np.float32))
    proc = run_cli("run", str(model), "-i", f"X={x}")
    assert_refused(proc, "../secret.bin")
    assert "6." not in proc.stdout  # the secret's last value never printed


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[:-1],  # cut short: a length runs past the end
        lambda b: _varint(100 << 3 | 3) + b,  # a group never closed
        lambda b: _varint(100 << 3 | 4) + b,  # a group closed that was never opened
        lambda b: _varint(7) + b,  # wire type 7
        lambda b: b"\x00" + b,  # field number 0
    ],
    ids=["truncated", "open-group", "stray-end", "wire-7", "field-0"],
)
def test_bytes_the_reader_cannot_account_for_refuse_the_model(tmp_path: Path, damage) -> None:
    model, graph = _parts("w.bin")  # inside the folder: only the damage refuses it
    path = tmp_path / "m.onnx"
    path.write_bytes(damage(_join(model, b"".join(graph))))
    with pytest.raises(ModelLoadError, match="cannot account for every field"):
        check_external_data(path, str(path))


def test_ort_format_models_are_left_to_onnx_runtime() -> None:
    """Bytes with ONNX Runtime's flatbuffer mark are its own format, never parsed as protobuf."""
    check_external_data(b"\x10\x00\x00\x00ORTM location", "ort")

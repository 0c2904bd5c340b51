"""Hostile input files: every file a user names (``run -i``, ``--expected``, test-data folders)
is read by the one reader, so a FIFO, a device, a lying .npy header, a symlink leading out of the
named folder, external data of a .pb file and ambiguous test-data names are typed errors, fast;
integer outputs are compared exactly."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from ort_wrapper import SessionBuilder
from ort_wrapper.check.compare import compare_reference
from ort_wrapper.check.inputs import ModelSpec, resolve_inputs
from ort_wrapper.errors import InputError

import models
from support.hostile import assert_refused, cli, limit_memory

X = np.arange(6, dtype=np.float32).reshape(2, 3)


def _identity(path: Path, elem: int = TensorProto.FLOAT) -> Path:
    """Y = X, shape [2, 3], of element type ``elem``."""
    io = [helper.make_tensor_value_info(n, elem, [2, 3]) for n in "XY"]
    graph = helper.make_graph([helper.make_node("Identity", ["X"], ["Y"])], "i", io[:1], io[1:])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", models.OPSET)])
    model.ir_version = models.IR_VERSION
    path.parent.mkdir(parents=True, exist_ok=True)
    return models.save(model, path)


def _pb(path: Path, value: np.ndarray, name: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(numpy_helper.from_array(value, name).SerializeToString())
    return path


def _inputs(model: Path, **spec: object):
    return resolve_inputs(ModelSpec(model, **spec), SessionBuilder.from_file(model).build())


def _lying_npy(path: Path, shape: tuple[int, ...]) -> Path:
    """A 100-byte-ish .npy whose header claims ``shape`` of float32 (256 GiB for the issue's)."""
    header = f"{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}".encode()
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + b"\0" * 24)
    return path


def test_a_npy_header_claiming_256_gib_is_a_typed_error(tmp_path: Path) -> None:
    model = _identity(tmp_path / "m.onnx")
    big = _lying_npy(tmp_path / "x.npy", (1 << 36,))
    assert big.stat().st_size < 200
    proc = cli("run", str(model), "-i", f"X={big}", preexec_fn=limit_memory)
    assert_refused(proc, str(big), "[68719476736]", "24 bytes follow it")


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_run_refuses_a_fifo_or_device_as_input_without_blocking(tmp_path: Path, kind) -> None:
    model = _identity(tmp_path / "m.onnx")
    feed = tmp_path / "x.npy"
    os.mkfifo(feed) if kind == "fifo" else feed.symlink_to("/dev/zero")
    proc = cli("run", str(model), "-i", f"X={feed}", timeout=60, preexec_fn=limit_memory)
    assert_refused(proc, str(feed), "not a regular file")


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_check_refuses_a_fifo_or_device_as_test_data(tmp_path: Path, kind: str) -> None:
    model = _identity(tmp_path / "model" / "m.onnx")
    data = tmp_path / "model" / "test_data_set_0"
    data.mkdir()
    feed = data / "input_0.pb"
    os.mkfifo(feed) if kind == "fifo" else feed.symlink_to("/dev/zero")
    args = ("check", "--only", "determinism", "--quiet", "--model", str(model))
    proc = cli(*args, "--determinism-runs", "2", timeout=120, preexec_fn=limit_memory)
    assert proc.returncode != 0 and "Traceback" not in proc.stdout + proc.stderr
    said = "is not a regular file" if kind == "fifo" else "leads outside"  # /dev/zero: both
    assert f"input_0.pb {said}" in proc.stdout, proc.stdout


def test_a_test_data_file_symlinked_out_of_the_named_folder_is_refused(tmp_path: Path) -> None:
    model = _identity(tmp_path / "model" / "m.onnx")
    elsewhere = _pb(tmp_path / "secret.pb", X, "X")
    data = tmp_path / "model" / "test_data_set_0"
    data.mkdir()
    (data / "input_0.pb").symlink_to(elsewhere)
    with pytest.raises(InputError, match="leads outside"):
        _inputs(model)
    npy_dir = tmp_path / "npys"
    npy_dir.mkdir()
    np.save(tmp_path / "outside.npy", X)
    (npy_dir / "X.npy").symlink_to(tmp_path / "outside.npy")
    with pytest.raises(InputError, match="leads outside"):
        _inputs(model, input_dirs=(npy_dir,))


@pytest.mark.parametrize("names", [("input_0.pb", "input_00.pb"), ("output_0.pb", "output_00.pb")])
def test_ambiguous_test_data_names_are_refused(tmp_path: Path, names: tuple[str, str]) -> None:
    model = _identity(tmp_path / "model" / "m.onnx")
    data = tmp_path / "model" / "test_data_set_0"
    _pb(data / "input_0.pb", X, "X")
    _pb(data / "output_0.pb", X, "Y")
    _pb(data / names[1], X + 1, "X" if names[1].startswith("input") else "Y")
    with pytest.raises(InputError, match=rf"{names[0]} and {names[1]} both name number 0"):
        _inputs(model)


def test_ambiguous_test_data_set_names_are_refused(tmp_path: Path) -> None:
    model = _identity(tmp_path / "model" / "m.onnx")
    for name in ("test_data_set_1", "test_data_set_01"):
        _pb(tmp_path / "model" / name / "input_0.pb", X, "X")
    with pytest.raises(InputError, match="test_data_set_01 and test_data_set_1 both name"):
        _inputs(model)


def _external_pb(path: Path, location: str) -> Path:
    tensor = numpy_helper.from_array(X, "X")
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    tensor.external_data.add(key="location", value=location)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tensor.SerializeToString())
    return path


def test_external_data_of_a_pb_file_resolves_in_its_own_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _identity(tmp_path / "model" / "m.onnx")
    data = tmp_path / "model" / "test_data_set_0"
    _external_pb(data / "input_0.pb", "x.bin")
    (data / "x.bin").write_bytes(X.tobytes())
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.bin").write_bytes((X + 100).tobytes())  # the working directory's: not read
    assert np.array_equal(_inputs(model).feeds["X"], X)


@pytest.mark.parametrize("location", ["../secret.bin", "/etc/hostname", "link.bin"])
def test_external_data_of_a_pb_file_outside_its_folder_is_refused(
    tmp_path: Path, location: str
) -> None:
    model = _identity(tmp_path / "model" / "m.onnx")
    data = tmp_path / "model" / "test_data_set_0"
    (tmp_path / "model" / "secret.bin").write_bytes(X.tobytes())
    _external_pb(data / "input_0.pb", location)
    (data / "link.bin").symlink_to(tmp_path / "model" / "secret.bin")
    with pytest.raises(InputError, match=rf"reads external data from '{location}', outside"):
        _inputs(model)


def test_integer_outputs_are_compared_exactly() -> None:
    thousand = {"y": np.array([1000], np.int64)}
    assert not compare_reference(thousand, {"y": np.array([1001], np.int64)})[0].ok
    big = {"y": np.array([2**53], np.int64)}
    [diff] = compare_reference(big, {"y": np.array([2**53 + 1], np.int64)}, rtol=0, atol=0)
    assert not diff.ok and diff.mismatched == 1 and diff.max_abs == 1
    assert compare_reference(big, {"y": np.array([2**53], np.int64)}, rtol=0, atol=0)[0].ok
    flags = {"y": np.array([True, False])}
    assert not compare_reference(flags, {"y": np.array([True, True])}, rtol=10, atol=10)[0].ok
    unsigned = {"y": np.array([2**64 - 1], np.uint64)}
    assert not compare_reference(unsigned, {"y": np.array([-1], np.int64)})[0].ok
    assert not compare_reference({"y": [{1: 5}]}, {"y": [{1: 6}]}, rtol=1, atol=1)[0].ok


def test_check_fails_an_integer_output_one_off(tmp_path: Path) -> None:
    model = _identity(tmp_path / "m.onnx", TensorProto.INT64)
    x, y = tmp_path / "x.npy", tmp_path / "y.npy"
    np.save(x, np.full((2, 3), 1001, np.int64))
    np.save(y, np.full((2, 3), 1000, np.int64))
    args = ("check", "--only", "quality", "--quiet", "--model", str(model))
    proc = cli(*args, "-i", f"X={x}", "--expected", f"Y={y}", timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Y: 6 of 6 out of tolerance" in proc.stdout, proc.stdout


@pytest.mark.parametrize("kind", ["fifo", "device"])
@pytest.mark.parametrize("trusted", [False, True])
def test_a_fifo_or_device_as_the_model_is_refused(tmp_path: Path, kind: str, trusted: bool) -> None:
    """Before ONNX Runtime opens the model, trusted or not: it would block on a FIFO."""
    from ort_wrapper.errors import ModelLoadError

    model = tmp_path / "m.onnx"
    os.mkfifo(model) if kind == "fifo" else model.symlink_to("/dev/zero")
    with pytest.raises(ModelLoadError, match=r"m\.onnx is not a regular file"):
        SessionBuilder.from_file(model).trust_external_data(trusted).build()

"""ort-wrapper run -o: every output kind written so it reads back, distinct file names, the
user's path in write errors, ONNX Runtime's log level, nothing said before a failed write. The
command runs in this process (``run_cli``) but for the log-level test: ONNX Runtime's own log
lines go to the process's standard error from its C++ logger, a state of the whole process."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper

from ort_wrapper.cli.outputs import plan_outputs, read_output, write_outputs
from ort_wrapper.errors import InputError
from ort_wrapper.runtime.session import SessionBuilder

import models
from helpers import cli


def _same(a: object, b: object) -> bool:
    from ort_wrapper.check.compare import same_value

    return same_value(a, b)


def test_every_output_kind_reads_back(run_cli, tmp_path: Path) -> None:
    model = models.save(models.every_output_kind_model(), tmp_path / "kinds.onnx")
    np.save(tmp_path / "x.npy", np.array([0.25, 0.75], np.float32))
    result = run_cli("run", str(model), "-i", f"X={tmp_path / 'x.npy'}", "-o", str(tmp_path / "o"))
    assert result.returncode == 0, result.stderr
    expected = SessionBuilder.from_file(model).build().run({"X": np.load(tmp_path / "x.npy")})
    files = {p.name for p in (tmp_path / "o").iterdir()}
    assert files == {"tensor.npy", "strings.npy", "sequence.npz", "nothing.json",
                     "something.npy", "maps.json"}  # fmt: skip
    for path in (tmp_path / "o").iterdir():
        got, want = read_output(path), expected[path.name.split(".")[0]]
        if path.name == "strings.npy":
            assert got.tolist() == want.tolist() == ["ab", "c"]
        else:
            assert _same(got, want), (path.name, got, want)
    assert read_output(tmp_path / "o" / "nothing.json") is None
    assert read_output(tmp_path / "o" / "maps.json") == [{"cat": 0.25, "dog": 0.75}]


def test_integer_keyed_maps_read_back_with_integer_keys(tmp_path: Path) -> None:
    value = {"probabilities": [{0: 0.125, 1: 0.875}], "counts": {3: 1.5}}
    types = {"probabilities": "seq(map(int64,tensor(float)))", "counts": "map(int64,tensor(float))"}
    written = write_outputs(value, types, tmp_path)
    assert [read_output(p.path) for p in written] == [value["probabilities"], value["counts"]]


def _collide(path: Path) -> Path:
    nodes = [helper.make_node("Identity", ["X"], ["y/1"]), helper.make_node("Neg", ["X"], ["y_1"])]
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [2])
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2]) for n in ("y/1", "y_1")]
    return models.save(models._model(helper.make_graph(nodes, "c", [x], outs)), path)


def test_outputs_whose_names_sanitise_alike_keep_their_own_files(run_cli, tmp_path: Path) -> None:
    model = _collide(tmp_path / "c.onnx")
    np.save(tmp_path / "x.npy", np.array([1.0, 2.0], np.float32))
    result = run_cli("run", str(model), "-i", f"X={tmp_path / 'x.npy'}", "-o", str(tmp_path / "o"))
    assert result.returncode == 0, result.stderr
    assert np.load(tmp_path / "o" / "y_1.npy").tolist() == [-1.0, -2.0]  # y_1 keeps its name
    assert np.load(tmp_path / "o" / "y_1~2.npy").tolist() == [1.0, 2.0]  # y/1 is renamed ...
    safe = "file names keep only letters, digits, '-', '_' and '.', and start with no '.'"
    said = f"(output 'y/1' renamed: {safe}; y_1.npy is taken by another output)"
    assert said in result.stdout  # ... and says so


def test_a_renamed_output_is_said_to_be_renamed(run_cli, tmp_path: Path) -> None:
    """``a/b`` is written as ``a_b.npy``: the report says so, and which output it holds."""
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [2])
    y = helper.make_tensor_value_info("a/b", TensorProto.FLOAT, [2])
    graph = helper.make_graph([helper.make_node("Neg", ["X"], ["a/b"])], "r", [x], [y])
    model = models.save(models._model(graph), tmp_path / "r.onnx")
    np.save(tmp_path / "x.npy", np.array([1.0, 2.0], np.float32))
    result = run_cli("run", str(model), "-i", f"X={tmp_path / 'x.npy'}", "-o", str(tmp_path / "o"))
    assert result.returncode == 0, result.stderr
    assert np.load(tmp_path / "o" / "a_b.npy").tolist() == [-1.0, -2.0]
    [line] = [w for w in result.stdout.splitlines() if "wrote" in w]
    assert line.endswith("a_b.npy (output 'a/b' renamed: file names keep only letters, digits, "
                         "'-', '_' and '.', and start with no '.')")  # fmt: skip
    assert [p.note for p in plan_outputs({"kept": np.zeros(1)}, tmp_path)] == [""]


def test_file_names_differ_case_insensitively_and_stay_inside(tmp_path: Path) -> None:
    a = np.zeros(1)
    plans = plan_outputs({"Y": a, "y": a, "..": a, "a/../../b": a, "": a}, tmp_path)
    names = [p.path.name for p in plans]
    assert len({n.lower() for n in names}) == 5
    assert all(p.path.parent == tmp_path and not p.path.name.startswith(".") for p in plans)


def test_an_unwritable_output_names_the_users_path_and_says_nothing_else(
    run_cli, tmp_path: Path, add_model_path: Path
) -> None:
    np.save(tmp_path / "x.npy", np.ones((2, 3), np.float32))
    (tmp_path / "o" / "Z.npy").mkdir(parents=True)  # a directory where the file must go
    feeds = ("-i", f"X={tmp_path / 'x.npy'}", "-i", f"Y={tmp_path / 'x.npy'}")
    result = run_cli("run", str(add_model_path), *feeds, "-o", str(tmp_path / "o"))
    assert result.returncode == 1 and result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.endswith(f": {tmp_path / 'o' / 'Z.npy'}") and ".Z.npy." not in line
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["Z.npy"]  # no leftovers


@pytest.mark.parametrize(("level", "ort_lines"), [(None, False), ("error", True)])
def test_log_level_keeps_a_one_line_error_one_line(
    tmp_path: Path, level: str | None, ort_lines: bool
) -> None:
    model = models.save(models.bad_reshape_model(), tmp_path / "r.onnx")
    np.save(tmp_path / "x.npy", np.ones(6, np.float32))
    np.save(tmp_path / "s.npy", np.array([4, -1], np.int64))
    feeds = ("-i", f"X={tmp_path / 'x.npy'}", "-i", f"S={tmp_path / 's.npy'}")
    result = cli("run", str(model), *feeds, *(("--log-level", level) if level else ()))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("ort-wrapper run: error: ONNX Runtime failed running")
    assert (len(lines) > 1 and "[E:onnxruntime" in result.stderr) == ort_lines


def test_log_level_rejects_unknown_levels() -> None:
    with pytest.raises(InputError, match="log_level expects one of verbose, info"):
        SessionBuilder.from_bytes(b"x").log_level("loud")

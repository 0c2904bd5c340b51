"""ort-wrapper info / run: output, exit codes, one-line errors; in this process (``run_cli``),
but for the C library directory, which is a second ONNX Runtime and needs its own process."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ort_wrapper.errors import OrtWrapperError

from helpers import cli


def test_info_json_reports_usable_providers(run_cli) -> None:
    result = run_cli("info", "--json")
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout)
    assert facts["version"] == "1.23.2"
    assert facts["providers"]["CPUExecutionProvider"] == {"usable": True}
    assert facts["distribution"]["kind"] == "module"
    assert any("onnxruntime" in p for p in facts["library_paths"])


def test_info_text(run_cli) -> None:
    result = run_cli("info")
    assert result.returncode == 0
    assert "ONNX Runtime 1.23.2" in result.stdout
    [cpu] = [line for line in result.stdout.splitlines() if "CPUExecutionProvider" in line]
    assert cpu.split() == ["CPUExecutionProvider", "usable"]


def _run_add(run_cli, model: Path, work: Path, *extra: str, value: float = 1.0):
    """`ort-wrapper run` on the Add model with X = Y = ``value`` (a [2, 3] float32 .npy)."""
    np.save(work / "x.npy", np.full((2, 3), value, np.float32))
    feeds = ("-i", f"X={work / 'x.npy'}", "-i", f"Y={work / 'x.npy'}")
    return run_cli("run", str(model), *feeds, *extra)


def test_run_writes_outputs(run_cli, tmp_path: Path, add_model_path: Path) -> None:
    result = _run_add(
        run_cli, add_model_path, tmp_path, "--output-dir", str(tmp_path / "out"), value=2
    )
    assert result.returncode == 0, result.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "Z.npy"), np.full((2, 3), 4))


def test_run_prints_a_summary_without_output_dir(
    run_cli, tmp_path: Path, add_model_path: Path
) -> None:
    result = _run_add(run_cli, add_model_path, tmp_path)
    assert result.returncode == 0
    assert "Z: float32 [2, 3]" in result.stdout


def test_failures_are_one_line_with_exit_1(run_cli, tmp_path: Path, add_model_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.ones((2, 3), np.float32))
    result = run_cli("run", str(add_model_path), "-i", f"X={tmp_path / 'x.npy'}")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"ort-wrapper run: error: {add_model_path}: missing input(s) 'Y'. "
        "Expected inputs: X: tensor(float) [2, 3], Y: tensor(float) [2, 3]"
    ]
    result = run_cli("run", str(tmp_path / "missing.onnx"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    result = run_cli("run", str(add_model_path), "-i", f"X={tmp_path / 'nope.npy'}")
    assert (
        result.returncode == 1
        and "input 'X': " in result.stderr
        and "no such file" in result.stderr
    )


def test_verbose_shows_the_traceback(run_cli, tmp_path: Path) -> None:
    """--verbose lets the error out of main() (Python prints its traceback), past the handler
    that turns it into one line."""
    with pytest.raises(OrtWrapperError, match=r"missing\.onnx"):
        run_cli("run", str(tmp_path / "missing.onnx"), "--verbose")


def test_usage_errors_exit_2(run_cli, add_model_path: Path) -> None:
    assert run_cli("run", str(add_model_path), "-i", "X").returncode == 2
    assert run_cli("no-such-verb").returncode == 2
    assert run_cli().returncode == 2


def test_written_files_are_readable_by_others(
    run_cli, tmp_path: Path, add_model_path: Path
) -> None:
    from ort_wrapper.files import write_json_atomic

    assert (
        _run_add(
            run_cli, add_model_path, tmp_path, "--output-dir", str(tmp_path / "out")
        ).returncode
        == 0
    )
    assert (tmp_path / "out" / "Z.npy").stat().st_mode & 0o777 == 0o644
    written = write_json_atomic(tmp_path / "m" / "manifest.json", {"a": 1})
    assert written.stat().st_mode & 0o777 == 0o644
    assert not [p for p in written.parent.iterdir() if p.name.startswith(".")]  # no leftovers


def test_run_output_dir_problems_are_one_line(
    run_cli, tmp_path: Path, add_model_path: Path
) -> None:
    (tmp_path / "taken").write_text("a file, not a directory")
    result = _run_add(run_cli, add_model_path, tmp_path, "--output-dir", str(tmp_path / "taken"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "taken" in result.stderr


def test_strict_without_providers_is_a_usage_error(run_cli, add_model_path: Path) -> None:
    assert run_cli("run", str(add_model_path), "--strict").returncode == 2


def test_string_outputs_are_saved_without_pickle(run_cli, tmp_path: Path) -> None:
    from onnx import TensorProto, helper

    import models

    s_in = helper.make_tensor_value_info("S", TensorProto.STRING, [2])
    s_out = helper.make_tensor_value_info("T", TensorProto.STRING, [2])
    graph = helper.make_graph([helper.make_node("Identity", ["S"], ["T"])], "s", [s_in], [s_out])
    model = models.save(models._model(graph), tmp_path / "s.onnx")
    np.save(tmp_path / "s.npy", np.array(["ab", "c"]))
    result = run_cli("run", str(model), "-i", f"S={tmp_path / 's.npy'}", "-o", str(tmp_path / "o"))
    assert result.returncode == 0, result.stderr
    assert np.load(tmp_path / "o" / "T.npy").tolist() == ["ab", "c"]


def test_info_and_run_on_a_c_library_directory(tmp_path: Path, add_model_path: Path) -> None:
    """The same verbs on the wheel's C library alone (no Python module): the C API backend."""
    from support.real_libraries import wheel_library_dir

    libdir = wheel_library_dir(tmp_path / "lib")
    info = cli("info", "--json", "--dist", str(libdir))
    assert info.returncode == 0, info.stderr
    facts = json.loads(info.stdout)
    assert (facts["backend"], facts["distribution"]["kind"]) == ("capi", "directory")
    assert facts["version"] == "1.23.2" and facts["providers"]["CPUExecutionProvider"]["usable"]
    x = tmp_path / "x.npy"
    np.save(x, np.arange(6, dtype=np.float32).reshape(2, 3))
    out = tmp_path / "out"
    ran = cli("run", str(add_model_path), "-i", f"X={x}", "-i", f"Y={x}", "--dist", str(libdir),
               "-o", str(out))  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert np.load(out / "Z.npy").tolist() == [[0, 2, 4], [6, 8, 10]]
    missing = cli("run", str(add_model_path), "-i", f"X={x}", "--dist", str(libdir))
    assert missing.returncode == 1 and "missing input(s) 'Y'" in missing.stderr

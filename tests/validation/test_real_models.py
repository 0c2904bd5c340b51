"""Validation: `ort-wrapper check --model` on real models from PyPI packages with their real
inputs, outputs compared with raw onnxruntime's (the reference outputs), every output kind, time
limits, and a folder of models with one summary table.

The models (tests/support/pypi_models.py, cached by version and sha256): Silero VAD (recurrent,
state and scalar inputs), PP-OCRv4 text detection (convolutional, dynamic height and width) and a
scikit-learn classifier converted by skl2onnx with ZipMap (a sequence-of-maps output), labelled
by numbers or by the species' names (string labels and string map keys).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers import cli
from support.pypi_models import (
    iris_rows,
    ocr_detector,
    ocr_image,
    reference_outputs,
    silero_vad,
    vad_inputs,
    write_test_data_set,
    zipmap_classifier,
)
from support.real_libraries import wheel_library_dir

QUICK = ("--determinism-seconds", "2", "--stability-seconds", "3", "--runs", "200")


def _check(tmp_path: Path, *args: str, sections: str = "quality,determinism,stability") -> Any:
    """Run `check --only SECTIONS ARGS`; the process and its JSON report."""
    report = tmp_path / "report.json"
    done = cli("check", "--only", sections, "--quiet", "--json", str(report), *args, timeout=600)
    assert "Traceback" not in done.stderr, done.stderr
    return done, json.loads(report.read_text())


def _checks(report: dict[str, Any], section: str, model: Path | str) -> list[dict[str, Any]]:
    [found] = [s for s in report["sections"] if s["name"] == section]
    return [c for c in found["checks"] if c["data"].get("model") == str(model)]


def _save(directory: Path, arrays: dict[str, Any]) -> list[str]:
    """NAME=FILE.npy arguments for ``arrays`` saved under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    args = []
    for name, value in arrays.items():
        np.save(directory / f"{name}.npy", value)
        args.append(f"{name}={directory / f'{name}.npy'}")
    return args


def _zoo(tmp_path: Path, model: Path, feeds: dict[str, Any], name: str) -> Path:
    """The model zoo layout: DIR/model.onnx and DIR/test_data_set_0 from raw onnxruntime."""
    folder = tmp_path / name
    folder.mkdir(parents=True)
    shutil.copyfile(model, folder / "model.onnx")
    expected = reference_outputs(model, feeds)
    write_test_data_set(folder / "test_data_set_0", feeds, expected)
    return folder / "model.onnx"


def _passes_with_real_inputs(report: dict[str, Any], model: Path | str) -> None:
    for section in ("quality", "determinism", "stability"):
        checks = _checks(report, section, model)
        assert checks and all(c["status"] != "fail" for c in checks), (section, checks)
        assert all(c["data"]["inputs"].startswith("real") for c in checks if "inputs" in c["data"])
    [reference] = _checks(report, "quality", model)
    assert reference["name"].endswith("reference outputs") and reference["data"]["compared"] >= 1


def test_silero_vad_with_real_inputs_and_expected_outputs(tmp_path: Path) -> None:
    model, feeds = silero_vad(), vad_inputs()
    expected = reference_outputs(model, feeds)
    inputs = _save(tmp_path / "in", feeds)
    outputs = _save(tmp_path / "ref", expected)
    args = [a for i in inputs for a in ("--input", i)] + [
        a for o in outputs for a in ("--expected", o)
    ]
    done, report = _check(tmp_path, "--model", str(model), *args, *QUICK)
    assert done.returncode == 0, done.stdout
    _passes_with_real_inputs(report, model)
    [reference] = _checks(report, "quality", model)
    assert reference["data"]["compared"] == 2 and reference["data"]["maxAbsDiff"] == 0.0


def test_silero_vad_synthetic_inputs_are_rejected_honestly(tmp_path: Path) -> None:
    model = silero_vad()
    done, report = _check(tmp_path, "--model", str(model), *QUICK, sections="determinism,stability")
    assert done.returncode == 1
    for section in ("determinism", "stability"):
        [failed] = _checks(report, section, model)
        assert failed["name"].endswith(("first run", "runs on CPUExecutionProvider"))
        assert failed["detail"].startswith("the synthetic input was rejected: ")
        assert "give the model's real inputs with --input" in failed["detail"]
    [row] = [r for r in report["sections"][1]["tables"][0]["rows"] if r[0] == str(model)]
    assert row[-1] == "inputs rejected"
    builtin = [c for c in report["sections"][0]["checks"] if c["name"].startswith("builtin:")]
    assert builtin and all(c["status"] != "fail" for c in builtin)  # the others still ran


def test_ocr_detector_with_a_test_data_set_directory(tmp_path: Path) -> None:
    model, feeds = ocr_detector(), ocr_image()
    data = write_test_data_set(tmp_path / "data" / "test_data_set_0", feeds,
                               reference_outputs(model, feeds))  # fmt: skip
    done, report = _check(tmp_path, "--model", str(model), "--input", str(data.parent), *QUICK)
    assert done.returncode == 0, done.stdout
    _passes_with_real_inputs(report, model)
    [repeats] = [c for c in _checks(report, "determinism", model) if "one session" in c["name"]]
    assert 1 <= repeats["data"]["runs"] <= repeats["data"]["requestedRuns"]


def test_dim_fixes_symbolic_dimensions_of_synthetic_inputs(tmp_path: Path) -> None:
    model = ocr_detector()
    dims = ("--dim", "p2o.DynamicDimension.0=1", "--dim", "p2o.DynamicDimension.1=64",
            "--dim", "x[3]=96")  # fmt: skip
    done, report = _check(tmp_path, "--model", str(model), *dims, *QUICK, sections="determinism")
    assert done.returncode == 0, done.stdout
    checks = _checks(report, "determinism", model)
    assert checks[0]["data"]["inputs"] == "synthetic (x [1, 3, 64, 96])"
    done, report = _check(tmp_path, "--model", str(model), *QUICK, sections="determinism")
    assert done.returncode == 1  # 8 x 3 x 8 x 8 is too small for this detector


def test_zipmap_classifier_test_data_beside_the_model(tmp_path: Path) -> None:
    """The model zoo layout is found without --input; its sequence-of-maps output is compared
    structurally and no section breaks on it."""
    model = _zoo(tmp_path, zipmap_classifier(), iris_rows(), "iris")
    done, report = _check(tmp_path, "--model", str(model), *QUICK)
    assert done.returncode == 0, done.stdout
    _passes_with_real_inputs(report, model)
    rows = report["sections"][0]["tables"][-1]["rows"]
    assert [r[2] for r in rows] == ["output_label", "output_probability"]


def _wrong_label(model: Path) -> Path:
    """A copy of ``model``'s zoo folder whose reference says 'virginica' for the second flower
    (the model says 'versicolor'), the rest as it was."""
    import onnx
    from onnx import numpy_helper

    folder = model.parent.with_name(model.parent.name + "-wrong")
    shutil.copytree(model.parent, folder)
    label = folder / "test_data_set_0" / "output_0.pb"
    tensor = numpy_helper.to_array(onnx.load_tensor_from_string(label.read_bytes()))
    assert tensor[1] == "versicolor"
    tensor[1] = "virginica"
    label.write_bytes(numpy_helper.from_array(tensor, "output_label").SerializeToString())
    return folder / "model.onnx"


@pytest.mark.parametrize("backend", ["pybind", "capi"])
def test_string_labelled_classifier_against_its_test_data_set(tmp_path: Path, backend: str) -> None:
    """skl2onnx's string labels: onnx reads the reference's map keys back as bytes, ONNX Runtime
    gives str; they compare as text on both backends, and a wrong label still fails."""
    zoo = tmp_path / "zoo"
    right = _zoo(zoo, zipmap_classifier(names=True), iris_rows(), "iris")
    wrong = _wrong_label(right)
    dist = ["--dist", str(wheel_library_dir(tmp_path / "lib"))] if backend == "capi" else []
    done, report = _check(tmp_path, "--models-dir", str(zoo), *dist, sections="quality")
    assert done.returncode == 1, done.stdout
    assert (report["distribution"]["kind"] == "directory") is (backend == "capi")
    [passed] = _checks(report, "quality", right)
    assert passed["status"] == "pass" and passed["data"]["compared"] == 2, passed
    [failed] = _checks(report, "quality", wrong)
    assert failed["status"] == "fail"
    assert failed["data"]["failed"] == [
        "test_data_set_0: output_label: values differ at [1]: 'versicolor', expected 'virginica'"
    ]
    rows = {r[0]: r[2] for r in report["models"]["rows"]}
    assert rows == {str(right): "pass", str(wrong): "FAIL"}


def test_a_zipmap_model_breaks_no_section(tmp_path: Path) -> None:
    """Its sequence-of-maps output once stopped the whole determinism section (AttributeError)."""
    model = zipmap_classifier()
    done, report = _check(tmp_path, "--model", str(model), *QUICK, sections="determinism,stability")
    assert done.returncode == 0, done.stdout
    for section in report["sections"]:
        names = [c["name"] for c in section["checks"] if c["status"] != "fail"]
        assert any(n.startswith("builtin:mlp") for n in names) and any(
            str(model) in n for n in names
        )


def test_reference_differences_fail_and_are_reported(tmp_path: Path) -> None:
    model, feeds = silero_vad(), vad_inputs()
    expected = reference_outputs(model, feeds)
    expected["output"] = expected["output"] + 0.01
    inputs = _save(tmp_path / "in", feeds)
    [wrong] = _save(tmp_path / "ref", {"output": expected["output"]})
    args = ["--model", str(model), *[a for i in inputs for a in ("-i", i)], "--expected", wrong]
    done, report = _check(tmp_path, *args, *QUICK, sections="quality")
    assert done.returncode == 1
    [check] = _checks(report, "quality", model)
    assert check["status"] == "fail"
    assert "output: 1 of 1 out of tolerance, max |diff| 0.01" in check["detail"]
    assert "output[0, 0]" in done.stdout  # the largest difference, located
    done, report = _check(tmp_path, *args, "--atol", "0.02", *QUICK, sections="quality")
    assert done.returncode == 0 and "atol 0.02" in _checks(report, "quality", model)[0]["detail"]


def test_runs_are_bounded_by_time_and_counted(tmp_path: Path) -> None:
    model = zipmap_classifier()
    limits = ("--runs", "10000000", "--stability-seconds", "1",
              "--determinism-runs", "10000000", "--determinism-seconds", "1")  # fmt: skip
    done, report = _check(tmp_path, "--model", str(model), *limits,
                          sections="determinism,stability")  # fmt: skip
    assert done.returncode == 0, done.stdout
    [stability] = _checks(report, "stability", model)
    assert stability["data"]["timeLimited"] and 0 < stability["data"]["runs"] < 10_000_000
    assert f"{stability['data']['runs']} runs in " in stability["detail"]
    assert "stopped at the 1 s limit; 10000000 asked" in stability["detail"]
    [repeats] = [c for c in _checks(report, "determinism", model) if "one session" in c["name"]]
    assert repeats["data"]["timeLimited"] and "stopped at the 1 s limit" in repeats["detail"]


def test_a_folder_of_models_ends_with_one_table(tmp_path: Path) -> None:
    zoo = tmp_path / "zoo"
    models = [
        _zoo(zoo, silero_vad(), vad_inputs(), "vad"),
        _zoo(zoo, ocr_detector(), ocr_image(), "ocr"),
        _zoo(zoo, zipmap_classifier(), iris_rows(), "iris"),
    ]
    done, report = _check(tmp_path, "--models-dir", str(zoo), *QUICK)
    assert done.returncode == 0, done.stdout
    summary = report["models"]
    assert summary["columns"] == ["model", "inputs", "quality", "determinism", "stability",
                                  "time s"]  # fmt: skip
    assert [r[0] for r in summary["rows"]] == sorted(str(m) for m in models)
    for row in summary["rows"]:
        assert row[1] == "real (test_data_set_0)" and row[2:5] == ["pass", "pass", "pass"]
    lines = done.stdout.rstrip().splitlines()  # the table ends the report
    assert lines[-6] == "models:" and lines[-5].split() == [*summary["columns"][:-1], "time", "s"]


def test_input_belongs_to_one_model(tmp_path: Path, run_cli) -> None:
    model = zipmap_classifier()
    [arg] = _save(tmp_path, iris_rows())
    done = run_cli("check", "--model", str(model), str(model), "--input", arg)
    assert done.returncode == 2 and "give exactly one --model" in done.stderr
    done = run_cli("check", "--model", str(model), "--expected", arg)
    assert done.returncode == 2 and "--expected needs the inputs" in done.stderr


@pytest.mark.parametrize("kind", ["pairs", "npy-dir"])
def test_iris_rows_as_npy(tmp_path: Path, kind: str) -> None:
    model = zipmap_classifier()
    [arg] = _save(tmp_path / "in", iris_rows())
    given = ["--input", arg] if kind == "pairs" else ["--input", str(tmp_path / "in")]
    done, report = _check(tmp_path, "--model", str(model), *given, *QUICK,
                          sections="determinism")  # fmt: skip
    assert done.returncode == 0, done.stdout
    assert _checks(report, "determinism", model)[0]["data"]["inputs"] == "real (--input)"

"""Lab: ONNX Runtime 1.21.0 reduced to what two real PyPI models need (PP-OCRv4's detector,
Silero VAD), built with ORT's own reduce_op_kernels.py next to the full build, proved by a C
program linked with each distribution's own flags: the models' outputs are bitwise those of
the full build, a model with an operator outside the set fails naming it, and ``check`` on the
reduced build runs only the conformance cases it can. Prints the figures docs/native-build-lab.md
records (sizes, steps, times)."""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from ort_wrapper.errors import BuildError
from ort_wrapper.files import sha256_file
from ort_wrapper.lab.pipeline import LabResult
from ort_wrapper.manifest import load_manifest
from ort_wrapper.operators import Operator

from support.pypi_models import (
    ocr_detector,
    ocr_image,
    reference_outputs,
    silero_vad,
    vad_inputs,
    write_test_data_set,
)
from support.real_libraries import chroot_check_python

pytestmark = pytest.mark.lab

WORK = "/lab/reduced-test"
DRIVER = Path(__file__).with_name("run_tensors.c")
_TYPES = {np.dtype(np.float32): "float", np.dtype(np.int64): "int64"}


def _models() -> dict[str, tuple[Path, dict[str, np.ndarray]]]:
    return {"ocr": (ocr_detector(), ocr_image()), "vad": (silero_vad(), vad_inputs())}


def _neg_model() -> onnx.ModelProto:
    """Neg is in neither model and has no function body ORT could expand into other
    operators: the reduced build has no kernel for it."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])
    graph = helper.make_graph([helper.make_node("Neg", ["x"], ["y"])], "neg", [x], [y])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)


@pytest.fixture(scope="module")
def work(reduced_lab: tuple[LabResult, LabResult]) -> Path:
    """The models, their inputs as raw files, and the C driver linked with each build."""
    full, reduced = reduced_lab
    host = full.chroot.host_path(WORK)
    shutil.rmtree(host, ignore_errors=True)
    host.mkdir(parents=True)
    shutil.copy2(DRIVER, host / DRIVER.name)
    for name, (model, feeds) in _models().items():
        shutil.copy2(model, host / f"{name}.onnx")
        for key, value in feeds.items():
            np.ascontiguousarray(value).tofile(host / f"{name}.{key}.raw")
    onnx.save(_neg_model(), str(host / "neg.onnx"))
    np.ones((2, 3), np.float32).tofile(host / "neg.x.raw")
    for label, lab in (("full", full), ("reduced", reduced)):
        line = (
            f"export PKG_CONFIG_PATH={lab.dist_inside}/lib/pkgconfig && gcc -O2 -Wall -Werror "
            f"{DRIVER.name} $(pkg-config --cflags libonnxruntime) "
            f"$(pkg-config --static --libs libonnxruntime) -o {label} && strip {label}"
        )
        full.chroot.run(["sh", "-c", line], cwd=WORK)
    return host


def _run(lab: LabResult, program: str, name: str, feeds: dict[str, np.ndarray]) -> Path:
    out = f"{WORK}/out-{program}-{name}"
    shutil.rmtree(lab.chroot.host_path(out), ignore_errors=True)
    lab.chroot.host_path(out).mkdir()
    args = [
        f"{key}={_TYPES[v.dtype]}:{'x'.join(map(str, v.shape)) or 'scalar'}:{name}.{key}.raw"
        for key, v in feeds.items()
    ]
    lab.chroot.run([f"./{program}", f"{name}.onnx", out, *args], cwd=WORK)
    return lab.chroot.host_path(out)


def test_the_manifest_records_the_reduction(reduced_lab: tuple[LabResult, LabResult]) -> None:
    full, reduced = reduced_lab
    config = load_manifest(reduced.dist).reduced_for
    assert config is not None and load_manifest(full.dist).reduced_for is None
    assert {m.sha256 for m in config.models} == {sha256_file(m) for m, _ in _models().values()}
    # what ORT's optimisers make of the detector's Conv + activation pairs
    assert Operator("com.microsoft", 1, "FusedConv") in config.operators
    assert Operator("ai.onnx", 16, "LSTM") in config.operators
    assert reduced.dist.name.startswith("cpu-reduced-")


def test_the_models_run_bitwise_like_the_full_build(
    reduced_lab: tuple[LabResult, LabResult], work: Path
) -> None:
    full, _ = reduced_lab
    for name, (_, feeds) in _models().items():
        want, got = _run(full, "full", name, feeds), _run(full, "reduced", name, feeds)
        outputs = sorted(p.name for p in want.iterdir())
        assert outputs and outputs == sorted(p.name for p in got.iterdir())
        for output in outputs:
            assert (got / output).read_bytes() == (want / output).read_bytes(), (name, output)


def test_a_model_outside_the_set_fails_naming_the_operator(
    reduced_lab: tuple[LabResult, LabResult], work: Path
) -> None:
    full, _ = reduced_lab
    feeds = {"x": np.ones((2, 3), np.float32)}
    assert any(_run(full, "full", "neg", feeds).iterdir())  # the full build runs it
    with pytest.raises(BuildError) as info:
        _run(full, "reduced", "neg", feeds)
    message = str(info.value)
    assert "exit code 1" in message and "Could not find an implementation for Neg(13)" in message


def _full_outputs(full: LabResult, name: str) -> dict[str, np.ndarray]:
    """The full build's outputs (the C driver's bytes), shaped as the wheel's outputs are."""
    model, feeds = _models()[name]
    out = _run(full, "full", name, feeds)
    shapes = reference_outputs(model, feeds)
    return {k: np.frombuffer((out / f"{k}.bin").read_bytes(), v.dtype).reshape(v.shape)
            for k, v in shapes.items()}  # fmt: skip


def test_check_knows_the_build_is_reduced(
    reduced_lab: tuple[LabResult, LabResult], work: Path
) -> None:
    """Conformance on the cases the reduced build registers every operator of (against the
    full build's baseline); the models it was made for give the full build's outputs bit for
    bit (rtol = atol = 0); a model outside the set is named."""
    full, reduced = reduced_lab
    py = chroot_check_python(full)
    folder = full.chroot.host_path(py)
    for name, (model, feeds) in _models().items():  # each alone in a folder with its data
        (folder / name).mkdir()
        shutil.copy2(model, folder / name / f"{name}.onnx")
        write_test_data_set(folder / name / "test_data_set_0", feeds, _full_outputs(full, name))
    onnx.save(_neg_model(), str(folder / "neg.onnx"))
    argv = ["python3", "-m", "ort_wrapper.cli", "check", "--dist", reduced.dist_inside,
            "--only", "quality", "--quiet", "--json", f"{py}/reduced.json", "--rtol", "0",
            "--atol", "0", "--model", f"{py}/ocr/ocr.onnx", f"{py}/vad/vad.onnx",
            f"{py}/neg.onnx"]  # fmt: skip
    lines: list[str] = []
    with contextlib.suppress(BuildError):  # neg fails the section: the report says so
        full.chroot.run(argv, env={"PYTHONPATH": py}, on_line=lines.append)
    report = folder / "reduced.json"
    assert report.is_file(), "".join(lines[-40:])
    checks = {c["name"]: c for s in json.loads(report.read_text())["sections"] for c in s["checks"]}
    print("\n" + "\n".join(f"{n}: {c['status']}: {c['detail']}" for n, c in checks.items()))
    assert checks["conformance on CPUExecutionProvider"]["status"] == "pass"
    assert checks["cases in the reduced build"]["status"] == "info"
    for name in ("ocr", "vad"):
        model = f"{py}/{name}/{name}.onnx"
        assert checks[f"operators of {model}"]["status"] == "pass"
        assert checks[f"{model}: reference outputs"]["status"] == "pass"
        assert checks[f"{model}: reference outputs"]["data"]["maxAbsDiff"] == 0.0
    neg = checks[f"operators of {py}/neg.onnx"]
    assert neg["status"] == "fail" and "ai.onnx:Neg(13)" in neg["detail"]


def test_figures(reduced_lab: tuple[LabResult, LabResult], work: Path) -> None:
    """The sizes and build figures docs/native-build-lab.md records (printed; the reduced
    archive is no larger than the full one and the linked program is smaller)."""
    full, reduced = reduced_lab
    labs = {"full": full, "reduced": reduced}
    archive = {k: (lab.dist / "lib/libonnxruntime.a").stat().st_size for k, lab in labs.items()}
    program = {k: (work / k).stat().st_size for k in labs}
    for label, lab in labs.items():
        timings = json.loads(lab.dist.with_name(lab.dist.name + ".json").read_text())["timings"]
        print(f"\n{label}: libonnxruntime.a {archive[label]:,} B, stripped program "
              f"{program[label]:,} B, build {timings}")  # fmt: skip
    assert archive["reduced"] < archive["full"]
    assert program["reduced"] < program["full"]

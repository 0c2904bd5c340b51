"""The C API run path's economies, each proven on the PyPI wheel's real C library in a fresh
process: borrowed-buffer OrtValues reused by address, shape and type (and never wrongly), a
map output read with a fixed number of ORT calls per map, and no ml_dtypes import for models
that do not need it."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest
from onnx import TensorProto, helper

import models
from helpers import run_fresh
from support.real_libraries import wheel_library_dir

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="ELF shared libraries")


@pytest.fixture(scope="module")
def libdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return wheel_library_dir(tmp_path_factory.mktemp("wheel-capi"))


def _fresh(code: str, libdir: Path) -> dict:
    head = (
        "import json, sys, numpy as np\n"
        "from pathlib import Path\n"
        "from ort_wrapper.runtime.capi.runtime import CapiRuntime\n"
        f"RUNTIME = CapiRuntime(next(Path({str(libdir)!r}).glob('libonnxruntime.so.*')))\n"
        "def session(path):\n"
        "    options = RUNTIME.SessionOptions(intra_op_num_threads=1)\n"
        "    return RUNTIME.InferenceSession(Path(path).read_bytes(), options)\n"
    )
    done = run_fresh(head + textwrap.dedent(code), timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_tensor_values_are_reused_only_for_the_same_address_shape_and_type(
    libdir: Path, tmp_path: Path
) -> None:
    path = models.save(models.add_model(), tmp_path / "add.onnx")
    facts = _fresh(
        f"""
        s = session({str(path)!r})
        cache = s._runner._cache
        made = []
        create = cache._create
        cache._create = lambda *a: made.append(1) or create(*a)
        x = np.arange(6, dtype=np.float32).reshape(2, 3)
        y = np.ones((2, 3), np.float32)
        for _ in range(100):
            s.run(["Z"], {{"X": x, "Y": y}})
        steady = len(made)
        # the output fed back as the next input, 20 times: a recurrent state
        state, ok = np.zeros((2, 3), np.float32), True
        for step in range(20):
            state = s.run(["Z"], {{"X": state, "Y": y}})[0]
            ok = ok and state.tolist() == np.full((2, 3), step + 1.0).tolist()
        x[:] = 7  # same buffer, new data: the value still describes it
        changed = s.run(["Z"], {{"X": x, "Y": y}})[0].tolist()
        print(json.dumps({{"steady": steady, "recurrent": ok, "changed": changed}}))
        """,
        libdir,
    )
    assert facts["steady"] <= 4  # X, Y and an output buffer or two, not 300
    assert facts["recurrent"]
    assert facts["changed"] == [[8.0] * 3] * 2


def test_a_view_of_the_same_buffer_with_another_shape_is_a_new_value(
    libdir: Path, tmp_path: Path
) -> None:
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, ["a", "b"])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["a", "b"])
    neg = models._model(helper.make_graph([helper.make_node("Neg", ["X"], ["Y"])], "g", [x], [y]))
    path = models.save(neg, tmp_path / "neg.onnx")
    facts = _fresh(
        f"""
        s = session({str(path)!r})
        base = np.arange(6, dtype=np.float32)
        shapes = [s.run(["Y"], {{"X": base.reshape(shape)}})[0].shape for shape in
                  [(2, 3), (3, 2), (1, 6), (2, 3)]]
        as_int = s.run(["Y"], {{"X": base.reshape(2, 3)}})[0].tolist()
        print(json.dumps({{"shapes": shapes, "values": as_int}}))
        """,
        libdir,
    )
    assert facts["shapes"] == [[2, 3], [3, 2], [1, 6], [2, 3]]
    assert facts["values"] == [[-0.0, -1.0, -2.0], [-3.0, -4.0, -5.0]]


def _map_calls(libdir: Path, paths: dict[str, Path]) -> dict:
    """ORT calls made reading the output of each model (the run itself not counted)."""
    return _fresh(
        f"""
        from ort_wrapper.runtime.capi.readers import reader_for
        counts = {{}}
        for name, path in { ({k: str(v) for k, v in paths.items()})!r}.items():
            s = session(path)
            calls = s._runner._calls
            n = [0]
            for attr, fn in list(vars(calls).items()):
                if callable(fn) and attr != "check" and not attr.startswith("_"):
                    setattr(calls, attr, (lambda f: lambda *a: n.__setitem__(0, n[0] + 1)
                                          or f(*a))(fn))
            read = s._runner._plan_for(["maps"]).readers[0]
            rows = s.get_inputs()[0].shape[0]
            labels = s.get_inputs()[0].shape[1]
            feeds = {{"X": np.random.default_rng(0).random((rows, labels), np.float32)}}
            out = s.run(["maps"], feeds)[0]
            n[0] = 0
            import ctypes
            lib = s.lib
            slots = (ctypes.c_void_p * 2)()
            slots[0] = s._runner._cache.tensor(s._runner._cache.mine(), feeds["X"], 1)
            lib.check(lib.fn("Run")(s._handle, None, (ctypes.c_char_p * 1)(b"X"), slots, 1,
                                    (ctypes.c_char_p * 1)(b"maps"), 1,
                                    ctypes.cast(ctypes.addressof(slots) + 8,
                                                ctypes.POINTER(ctypes.c_void_p))))
            again = read(slots[1])
            lib.fn("ReleaseValue")(slots[1])
            counts[name] = {{"calls": n[0], "same": again == out, "rows": len(out)}}
        print(json.dumps(counts))
        """,
        libdir,
    )


def test_a_map_output_costs_a_fixed_number_of_calls_per_map(libdir: Path, tmp_path: Path) -> None:
    """A sequence of maps needs, per map, three GetValue calls and their releases, the keys'
    count and the two tensors' contents: no call per key, none that grows with the labels."""
    paths = {
        "10x3": models.save(models.zipmap_model(rows=10), tmp_path / "a.onnx"),
        "20x3": models.save(models.zipmap_model(rows=20), tmp_path / "b.onnx"),
        "10x6": models.save(
            models.zipmap_model(rows=10, labels=tuple("abcdef")), tmp_path / "c.onnx"
        ),
    }
    counts = _map_calls(libdir, paths)
    assert all(c["same"] for c in counts.values()), counts
    assert [counts[k]["rows"] for k in paths] == [10, 20, 10]
    per_map = (counts["20x3"]["calls"] - counts["10x3"]["calls"]) / 10
    assert per_map == 12, counts  # 3 GetValue + 3 ReleaseValue + 3 to count + 2 strings + 1 data
    assert counts["10x6"]["calls"] == counts["10x3"]["calls"]  # labels add no calls


def test_float_models_do_not_import_ml_dtypes(libdir: Path, tmp_path: Path) -> None:
    path = models.save(models.add_model(), tmp_path / "add.onnx")
    facts = _fresh(
        f"""
        s = session({str(path)!r})
        x = np.ones((2, 3), np.float32)
        s.run(["Z"], {{"X": x, "Y": x}})
        print(json.dumps({{"ml_dtypes": "ml_dtypes" in sys.modules}}))
        """,
        libdir,
    )
    assert facts == {"ml_dtypes": False}

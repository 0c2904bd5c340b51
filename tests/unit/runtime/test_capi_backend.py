"""The C API backend on the PyPI wheel's ``libonnxruntime.so.1.23.2`` used as a plain C library
directory (no Python module): init, sessions, every tensor type, non-tensor outputs, errors,
bad libraries, and no leaks. Each case runs in a fresh process (a process holds one runtime)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from helpers import run_fresh
from support.bundles import small_elf
from support.real_libraries import debian_header, wheel_library_dir

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="ELF shared libraries")

FAKE_ORT = r"""
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
static const char* version(void) { return "%(version)s"; }
static const void* table[4];
static const void* get_api(uint32_t v) { return v > %(max_api)d ? NULL : (const void*)table; }
typedef struct { const void* (*GetApi)(uint32_t); const char* (*GetVersionString)(void); } Base;
static const Base base = {get_api, version};
const Base* OrtGetApiBase(void) { return &base; }
%(extra)s
"""


@pytest.fixture(scope="module")
def libdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return wheel_library_dir(tmp_path_factory.mktemp("wheel-capi"))


def _fresh(code: str, libdir: Path, timeout: float = 300) -> dict:
    head = f"import json, numpy as np, ort_wrapper as ow\nLIB = {str(libdir)!r}\n"
    result = run_fresh(head + textwrap.dedent(code), timeout=timeout)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def _save(model: onnx.ModelProto, path: Path) -> Path:
    onnx.save(model, str(path))
    return path


def _model(nodes, inputs, outputs, opset: int = 21, domains=()) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs)
    imports = [helper.make_opsetid("", opset), *(helper.make_opsetid(d, 1) for d in domains)]
    model = helper.make_model(graph, opset_imports=imports)
    model.ir_version = 10
    return model


def test_init_on_a_plain_directory_runs_a_model(libdir: Path, add_model_path: Path) -> None:
    facts = _fresh(
        f"""
        info = ow.init(LIB)
        x = np.arange(6, dtype=np.float32).reshape(2, 3)
        s = (ow.SessionBuilder.from_file({str(add_model_path)!r}).intra_op_threads(1)
             .inter_op_threads(1).optimization_level("basic").deterministic().build())
        b = ow.SessionBuilder.from_bytes(open({str(add_model_path)!r}, "rb").read()).build()
        out = s.run({{"X": x, "Y": x}})["Z"]
        print(json.dumps({{
            "backend": info.backend, "kind": info.distribution.kind,
            "version": info.version, "library": str(info.library),
            "providers": list(s.providers), "out": out.tolist(),
            "same": b.run({{"X": x, "Y": x}})["Z"].tobytes() == out.tobytes(),
            "infer": ow.infer({str(add_model_path)!r}, {{"X": x, "Y": x}})["Z"].tolist(),
            "inputs": [i.describe() for i in s.inputs],
        }}))
        """,
        libdir,
    )
    assert facts["backend"] == "capi" and facts["kind"] == "directory"
    assert facts["version"] == "1.23.2" and facts["library"].startswith(str(libdir))
    assert facts["providers"] == ["CPUExecutionProvider"] and facts["same"]
    assert facts["out"] == facts["infer"] == [[0, 2, 4], [6, 8, 10]]
    assert facts["inputs"] == ["X: tensor(float) [2, 3]", "Y: tensor(float) [2, 3]"]


TYPES = [
    "FLOAT", "DOUBLE", "FLOAT16", "BFLOAT16", "INT8", "INT16", "INT32", "INT64", "UINT8",
    "UINT16", "UINT32", "UINT64", "BOOL", "STRING", "FLOAT8E4M3FN", "FLOAT8E4M3FNUZ",
    "FLOAT8E5M2", "FLOAT8E5M2FNUZ", "INT4", "UINT4",
]  # fmt: skip


def test_every_tensor_type_round_trips_with_symbolic_dims(libdir: Path, tmp_path: Path) -> None:
    paths = {}
    for name in TYPES:
        code = getattr(TensorProto, name)
        x = helper.make_tensor_value_info("X", code, ["n", 3])
        y = helper.make_tensor_value_info("Y", code, ["n", 3])
        nodes = [helper.make_node("Identity", ["X"], ["Y"])]
        if name in ("INT4", "UINT4"):  # ORT has no 4-bit Identity: there and back through Cast
            nodes = [helper.make_node("Cast", ["X"], ["A"], to=TensorProto.INT8),
                     helper.make_node("Cast", ["A"], ["Y"], to=code)]  # fmt: skip
        paths[name] = str(_save(_model(nodes, [x], [y]), tmp_path / f"{name}.onnx"))
    facts = _fresh(
        f"""
        import ml_dtypes
        ow.init(LIB)
        rng = np.random.default_rng(0)
        result = {{}}
        for name, path in {paths!r}.items():
            s = ow.SessionBuilder.from_file(path).build()
            dtype = {{"STRING": object, "BOOL": bool, "FLOAT": np.float32, "DOUBLE": np.float64,
                      "FLOAT16": np.float16}}.get(name)
            if dtype is None:
                low = name.lower().replace("e4m3fn", "_e4m3fn").replace("e5m2", "_e5m2")
                dtype = getattr(ml_dtypes, low, None) or np.dtype(low)
            if name == "STRING":
                x = np.array([["a", "bé", ""]] * 5, dtype=object)
            elif name in ("INT4", "UINT4"):
                x = rng.integers(-8 if name == "INT4" else 0, 8, (5, 3)).astype(dtype)
            else:
                x = (rng.standard_normal((5, 3)) * 3).astype(dtype)
            y = s.run({{"X": x}})["Y"]
            same = (y.tolist() == x.tolist()) if name == "STRING" else (
                y.dtype == x.dtype and y.tobytes() == x.tobytes())
            result[name] = [same, s.inputs[0].type, list(s.inputs[0].shape), list(y.shape)]
        print(json.dumps(result))
        """,
        libdir,
    )
    for name in TYPES:
        same, kind, shape, got = facts[name]
        assert same, name
        assert kind.startswith("tensor(") and shape == ["n", 3] and got == [5, 3], name


def test_sequences_and_maps_come_back_as_lists_and_dicts(libdir: Path, tmp_path: Path) -> None:
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 3])
    seq = helper.make_tensor_sequence_value_info("S", TensorProto.FLOAT, None)
    zipped = helper.make_value_info(
        "M",
        helper.make_sequence_type_proto(
            helper.make_map_type_proto(TensorProto.INT64, helper.make_tensor_type_proto(1, None))
        ),
    )
    model = _model(
        [
            helper.make_node("SequenceConstruct", ["X", "X"], ["S"]),
            helper.make_node(
                "ZipMap", ["X"], ["M"], domain="ai.onnx.ml", classlabels_int64s=[7, 8, 9]
            ),
        ],
        [x],
        [seq, zipped],
        opset=17,
        domains=("ai.onnx.ml",),
    )  # fmt: skip
    path = _save(model, tmp_path / "seqmap.onnx")
    facts = _fresh(
        f"""
        ow.init(LIB)
        s = ow.SessionBuilder.from_file({str(path)!r}).build()
        out = s.run({{"X": np.array([[0.5, 1.5, 2.5]], np.float32)}})
        print(json.dumps({{"S": [a.tolist() for a in out["S"]], "M": out["M"],
                          "types": [o.type for o in s.outputs]}}))
        """,
        libdir,
    )
    assert facts["S"] == [[[0.5, 1.5, 2.5]]] * 2
    assert facts["M"] == [{"7": 0.5, "8": 1.5, "9": 2.5}]  # JSON turns the int keys to text
    assert facts["types"] == ["seq(tensor(float))", "seq(map(int64,tensor(float)))"]


def test_outputs_are_bitwise_identical_to_the_pybind_path(libdir: Path, tmp_path: Path) -> None:
    code = """
        from ort_wrapper.check.models import builtin_models, synthetic_feeds
        if MODE == "capi":
            ow.init(LIB)
        digests = {}
        import hashlib
        for m in builtin_models():
            s = ow.SessionBuilder.from_bytes(m.data).intra_op_threads(1).build()
            out = s.run(synthetic_feeds(s.inputs))
            digests[m.name] = {k: hashlib.sha256(v.tobytes()).hexdigest() for k, v in out.items()}
        print(json.dumps({"backend": ow.init().backend, "digests": digests}))
    """
    capi = _fresh('MODE = "capi"\n' + textwrap.dedent(code), libdir)
    pybind = _fresh('MODE = "pybind"\n' + textwrap.dedent(code), libdir)
    assert (capi["backend"], pybind["backend"]) == ("capi", "pybind")
    assert capi["digests"] == pybind["digests"] and len(capi["digests"]) == 2


def test_errors_are_typed_and_carry_orts_message(libdir: Path, add_model_path: Path) -> None:
    facts = _fresh(
        f"""
        ow.init(LIB)
        said = {{}}
        def attempt(key, call):
            try:
                call()
            except ow.OrtWrapperError as exc:
                said[key] = [type(exc).__name__, str(exc)]
        attempt("bytes", lambda: ow.SessionBuilder.from_bytes(b"garbage").build())
        s = ow.SessionBuilder.from_file({str(add_model_path)!r}).build()
        x = np.ones((2, 3), np.float32)
        attempt("dtype", lambda: s.run({{"X": x, "Y": x.astype(np.float64)}}))
        attempt("unknown", lambda: s.run({{"X": x, "Q": x}}))
        attempt("ort", lambda: ow.ort)
        print(json.dumps(said))
        """,
        libdir,
    )
    assert facts["bytes"][0] == "ModelLoadError" and "protobuf parsing failed" in facts["bytes"][1]
    assert (
        facts["dtype"][0] == "InputError"
        and "has dtype float64, expected float32" in facts["dtype"][1]
    )
    assert facts["unknown"][0] == "InputError" and "unknown input(s) 'Q'" in facts["unknown"][1]
    assert facts["ort"][0] == "InitError" and "no onnxruntime Python module" in facts["ort"][1]


def test_a_pybind_module_already_loaded_is_not_mixed_with_a_c_library(libdir: Path) -> None:
    facts = _fresh(
        """
        import onnxruntime
        try:
            ow.init(LIB)
            said = "loaded"
        except ow.InitError as exc:
            said = str(exc)
        print(json.dumps({"said": said}))
        """,
        libdir,
    )
    assert "onnxruntime is already imported" in facts["said"]
    assert "two ONNX Runtimes in one process" in facts["said"]


def test_memory_stays_flat_over_10k_runs(libdir: Path, mlp_model_path: Path) -> None:
    facts = _fresh(
        f"""
        from ort_wrapper.check.stability import resident_bytes
        ow.init(LIB)
        s = ow.SessionBuilder.from_file({str(mlp_model_path)!r}).build()
        x = np.ones((4, 64), np.float32)
        for _ in range(500):
            s.run({{"X": x}})
        before = resident_bytes()
        for _ in range(10_000):
            s.run({{"X": x}})
        print(json.dumps({{"grew": resident_bytes() - before}}))
        """,
        libdir,
    )
    assert facts["grew"] < 1 << 20, facts  # a leaked OrtValue per run would be >= 10 MiB


def _fake(directory: Path, *, version: str, max_api: int, extra: str = "") -> Path:
    directory.mkdir(parents=True)
    source = directory / "fake.c"
    source.write_text(FAKE_ORT % {"version": version, "max_api": max_api, "extra": extra})
    lib = directory / "libonnxruntime.so.1"
    subprocess.run(["cc", "-shared", "-fPIC", str(source), "-o", str(lib)], check=True)
    source.unlink()
    return lib


def _init_error(directory: Path) -> str:
    result = run_fresh(
        f"""
        import ort_wrapper as ow
        try:
            ow.init({str(directory)!r})
        except ow.InitError as exc:
            print("InitError:", exc)
        """
    )
    assert result.stdout.startswith("InitError:"), result.stdout + result.stderr
    return result.stdout


def test_a_library_that_is_not_ort_is_named(tmp_path: Path) -> None:
    small_elf(tmp_path / "notort", "libonnxruntime.so.1")
    out = _init_error(tmp_path / "notort")
    assert "libonnxruntime.so.1 is not ONNX Runtime: it does not export OrtGetApiBase" in out


def test_an_ort_older_than_api_16_is_refused(tmp_path: Path) -> None:
    _fake(tmp_path / "old", version="1.15.1", max_api=15)
    out = _init_error(tmp_path / "old")
    assert "is ONNX Runtime 1.15.1 (C API 15); the C API backend needs API 16 or newer" in out
    _fake(tmp_path / "liar", version="1.23.2", max_api=15)
    out = _init_error(tmp_path / "liar")
    assert "(ONNX Runtime 1.23.2) returned NULL for GetApi(23)" in out


def test_a_library_that_crashes_on_load_is_reported(tmp_path: Path, run_cli) -> None:
    crash = "__attribute__((constructor)) static void boom(void) { abort(); }"
    _fake(tmp_path / "crash", version="1.23.2", max_api=23, extra=crash)
    out = _init_error(tmp_path / "crash")
    assert "libonnxruntime.so.1: the C API probe was killed by signal 6" in out
    report = tmp_path / "report.json"
    done = run_cli("check", "--dist", str(tmp_path / "crash"), "--quiet", "--json", str(report))
    assert done.returncode == 1, done.stderr
    sections = {s["name"]: s for s in json.loads(report.read_text())["sections"]}
    assert list(sections) == ["linking", "providers", "quality", "determinism", "stability"]
    assert all(s["status"] == "fail" for s in sections.values())
    assert "killed by signal 6" in json.dumps(sections["linking"])


def test_a_release_tarball_layout_is_a_distribution(
    tmp_path: Path, add_model_path: Path, run_cli
) -> None:
    """lib/ + include/ (an official release tarball's shape): the library is found in lib/,
    the version comes from GetVersionString(), the shipped header gives the function table, and
    bundle reads the same version."""
    root = tmp_path / "onnxruntime-linux-x64-1.23.2"
    wheel_library_dir(root / "lib")
    (root / "include").mkdir()
    shutil.copy2(debian_header(), root / "include" / "onnxruntime_c_api.h")
    facts = _fresh(
        f"""
        info = ow.init({str(root)!r})
        x = np.ones((2, 3), np.float32)
        z = ow.SessionBuilder.from_file({str(add_model_path)!r}).build().run({{"X": x, "Y": x}})
        print(json.dumps({{"library": str(info.library), "version": info.version,
                          "header": str(info.distribution.header()), "z": z["Z"].sum().item(),
                          "dirs": [str(d) for d in info.distribution.library_dirs]}}))
        """,
        root,
    )
    assert facts["library"] == str(root / "lib" / "libonnxruntime.so.1.23.2")
    assert facts["header"] == str(root / "include" / "onnxruntime_c_api.h")
    assert facts["version"] == "1.23.2" and facts["z"] == 12.0
    assert facts["dirs"] == [str(root / "lib")]
    out = tmp_path / "bundle"
    done = run_cli("bundle", str(root), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert json.loads((out / "share/ort-wrapper/manifest.json").read_text())["version"] == "1.23.2"


def test_outputs_whose_shape_depends_on_the_data_stay_right(libdir: Path, tmp_path: Path) -> None:
    """The run path hands ORT output arrays of the shape the same input shapes gave last time;
    a data-dependent shape (NonZero) makes ORT refuse the guess, and the run is redone."""
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, ["n"])
    y = helper.make_tensor_value_info("Y", TensorProto.INT64, [1, "k"])
    path = _save(_model([helper.make_node("NonZero", ["X"], ["Y"])], [x], [y], opset=17),
                 tmp_path / "nonzero.onnx")  # fmt: skip
    inputs = [[0, 1, 0, 1], [1, 1, 1, 0], [0, 0, 0, 1], [1, 0, 1, 0], [1, 1, 1, 1]]
    code = f"""
        import json, numpy as np, ort_wrapper as ow
        ow.init({str(libdir)!r})
        s = ow.SessionBuilder.from_file({str(path)!r}).log_level("warning").build()
        got = [s.run(np.array(v, np.float32))["Y"].tolist() for v in {inputs!r}]
        print(json.dumps({{"got": got}}))
        """
    done = run_fresh(code)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["got"] == [[np.nonzero(v)[0].tolist()] for v in inputs]
    # ORT refusing a guess is no error of the run: nothing on stderr, even at "warning"
    assert "onnxruntime" not in done.stderr, done.stderr


def test_the_c_library_does_not_taint_a_later_pybind_import(
    libdir: Path, add_model_path: Path
) -> None:
    """The C library is loaded RTLD_LOCAL: importing onnxruntime afterwards gives a working,
    separate runtime, which init() does not hand out (a process holds one)."""
    facts = _fresh(
        f"""
        ow.init(LIB)
        x = np.ones((2, 3), np.float32)
        import onnxruntime
        raw = onnxruntime.InferenceSession({str(add_model_path)!r})
        capi = ow.SessionBuilder.from_file({str(add_model_path)!r}).build()
        print(json.dumps({{"pybind": raw.run(None, {{"X": x, "Y": x}})[0].tolist(),
                          "capi": capi.run({{"X": x, "Y": x}})["Z"].tolist(),
                          "backend": ow.init().backend}}))
        """,
        libdir,
    )
    assert facts["pybind"] == facts["capi"] == [[2.0] * 3] * 2 and facts["backend"] == "capi"


def test_one_session_runs_from_many_threads(libdir: Path, mlp_model_path: Path) -> None:
    facts = _fresh(
        f"""
        from concurrent.futures import ThreadPoolExecutor
        ow.init(LIB)
        s = ow.SessionBuilder.from_file({str(mlp_model_path)!r}).build()
        feeds = [np.random.default_rng(i).standard_normal((i + 1, 64)).astype(np.float32)
                 for i in range(8)]
        alone = [s.run(x)["Y"].tobytes() for x in feeds]
        def work(i):
            return all(s.run(feeds[i])["Y"].tobytes() == alone[i] for _ in range(200))
        with ThreadPoolExecutor(8) as pool:
            same = list(pool.map(work, range(8)))
        print(json.dumps({{"same": same}}))
        """,
        libdir,
    )
    assert facts["same"] == [True] * 8


def test_each_provider_is_appended_by_the_calls_its_capi_entry_names(libdir: Path) -> None:
    # A CPU build refuses every other provider in ORT's own words, which name the provider:
    # proof that the options calls or the generic call with the entry's name reached ORT.
    said = _fresh(
        """
        from ort_wrapper.errors import OrtApiError
        from ort_wrapper.runtime.loader import active_runtime
        ow.init(LIB)
        runtime = active_runtime()
        handle = runtime.session_options(runtime.SessionOptions())
        said = {}
        for name in ("CUDAExecutionProvider", "TensorrtExecutionProvider",
                     "DnnlExecutionProvider", "XnnpackExecutionProvider",
                     "DmlExecutionProvider"):
            try:
                runtime.append_provider(handle, name, {"a": "1"})
            except OrtApiError as exc:
                said[name] = [exc.code, str(exc)]
        print(json.dumps(said))
        """,
        libdir,
    )
    assert said["CUDAExecutionProvider"][1].endswith(
        "CUDA execution provider is not enabled in this build."
    )
    assert "TensorRT execution provider is not enabled" in said["TensorrtExecutionProvider"][1]
    assert "oneDNN execution provider is not enabled" in said["DnnlExecutionProvider"][1]
    assert said["XnnpackExecutionProvider"] == [
        "ORT_INVALID_ARGUMENT",
        "[ONNXRuntimeError] : 2 : INVALID_ARGUMENT : XNNPACK execution provider is not "
        "supported in this build.",
    ]
    assert said["DmlExecutionProvider"][0] == "ORT_NOT_IMPLEMENTED"
    assert "no 'capi' entry in data/providers.json" in said["DmlExecutionProvider"][1]

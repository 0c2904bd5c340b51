"""The C API backend against the pybind path, and ``check`` on a shared C distribution.

    .venv/bin/python benchmarks/capi.py [--rounds 200] [--json out.json]
    .venv/bin/python benchmarks/capi.py --check   # quick rerun against docs/performance.md

Targets (issue 10): ``Session.run`` through the C API <= 1.10x the pybind ``Session.run`` on the
same ORT version, model and threads, on a model whose run takes >= 100 us (the one-op figure is
reported too); ``ort-wrapper check`` of a shared C distribution <= 60 s. Both sessions live in
this one process: the wheel's pybind module and its ``libonnxruntime.so.1.23.2`` (loaded
RTLD_LOCAL by the C backend) are two separate copies of the same release. Batches of the two are
interleaved round by round; the ratio is that of their least disturbed batches. Each case's
name is its row in docs/performance.md, which ``--check`` compares with.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import ort_wrapper as ow
from ort_wrapper.check.models import conv_model, mlp_model, synthetic_feeds
from ort_wrapper.runtime.capi.runtime import CapiRuntime

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from recorded import check, load
from timing import paired

import models

QUICK_ROUNDS = 80  # --check: about 20 s, without the `ort-wrapper check` wall time
# name (its row in docs/performance.md) -> (the model's bytes, calls per batch: a few ms, so that
# some batches of each run undisturbed on a busy machine)
CASES: dict[str, tuple[Callable[[], bytes], int]] = {
    "one-op Add [2,3]": (lambda: models.add_model().SerializeToString(), 300),
    "MLP 3x128, batch 8": (mlp_model, 100),
    "Conv 3x3 8->16 ch + ReduceMean, 32x32": (conv_model, 30),
    "MLP 3x256, batch 8": (partial(mlp_model, n=256), 30),
    "Conv 3x3 8->64 ch + ReduceMean, 32x32": (partial(conv_model, channels=64), 10),
    "ZipMap, 100 rows x 3 string labels": (lambda: models.zipmap_model().SerializeToString(), 10),
    "string tensor [100] in and out": (
        lambda: models.string_identity_model().SerializeToString(),
        30,
    ),
}


def _sessions(runtime: CapiRuntime, data: bytes) -> tuple[Any, Any, dict[str, Any]]:
    pybind = ow.SessionBuilder.from_bytes(data).cpu_only().intra_op_threads(1).build()
    options = runtime.SessionOptions(intra_op_num_threads=1)
    raw = runtime.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    capi = ow.Session(raw, "capi", ("CPUExecutionProvider",), ())
    return pybind, capi, synthetic_feeds(pybind.inputs)


def _check_wall(libdir: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "ort_wrapper.cli", "check", "--dist", str(libdir), "--quiet"],
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"check failed:\n{done.stdout[-3000:]}")
    return seconds


def _plain(value: Any) -> Any:
    """``value`` with numeric arrays as their bytes and others as lists, so that == is bitwise
    equality of tensors, and equality of strings, maps and sequences."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if getattr(value, "dtype", None) is not None:
        return value.tolist() if value.dtype.kind == "O" else (value.dtype, value.tobytes())
    return value


def _cases(runtime: CapiRuntime, rounds: int) -> dict[str, Any]:
    results = {}
    for name, (make, calls) in CASES.items():
        pybind, capi, feeds = _sessions(runtime, make())
        same = _plain(pybind.run(feeds)) == _plain(capi.run(feeds))
        r = paired(("pybind", "capi"), partial(pybind.run, feeds), partial(capi.run, feeds),
                   rounds, calls)  # fmt: skip
        results[name] = {**r, "bitwise_identical": same}
        print(
            f"{name:<40} pybind {r['pybind_us']:8.1f} us  C API {r['capi_us']:8.1f} us  "
            f"ratio {r['ratio']:.3f}  outputs identical: {same}"
        )
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--check", action="store_true", help=f"{QUICK_ROUNDS} rounds; compare")
    args = parser.parse_args()

    info = ow.init()  # the installed wheel, through its pybind module
    capi_dir = Path(ow.ort.__file__).parent / "capi"
    library = next(capi_dir.glob("libonnxruntime.so.*"))
    runtime = CapiRuntime(library)
    assert runtime.__version__ == info.version, (runtime.__version__, info.version)
    results: dict[str, Any] = {"onnxruntime": info.version, "python": sys.version.split()[0]}
    results["load_before"] = load()
    cases = _cases(runtime, QUICK_ROUNDS if args.check else args.rounds)
    results.update(cases, load_after=load())
    print(f"{results['load_before']} before, {results['load_after']} after")
    if not args.check:
        with tempfile.TemporaryDirectory() as tmp:
            libdir = Path(tmp)
            for lib in (library, capi_dir / "libonnxruntime_providers_shared.so"):
                shutil.copy2(lib, libdir / lib.name)
            results["check_wall_s"] = _check_wall(libdir)
        print(f"ort-wrapper check --dist <wheel's C library dir>: {results['check_wall_s']:.1f} s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return check({name: r["ratio"] for name, r in cases.items()}) if args.check else 0


if __name__ == "__main__":
    sys.exit(main())

"""Overhead of ort_wrapper against the raw onnxruntime API, measured as ratios in one run.

    .venv/bin/python benchmarks/overhead.py [--rounds 30] [--calls 2000] [--json out.json]

Targets (issue 2): Session.run <= 1.03x raw InferenceSession.run; infer() cache hit <= 1.10x raw;
`python -c "import ort_wrapper"` <= 1.10x `python -c "import onnxruntime"`. Raw and wrapped
batches are interleaved round by round so machine load hits both alike; the ratio is the median
over rounds of wrapped/raw.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import ort_wrapper as ow

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from timing import paired, per_call

import models


def _stat_cost(path: Path, calls: int) -> float:
    """One os.stat() of the model: the price of infer() noticing an edited model file."""
    text = str(path)
    return min(per_call(lambda: os.stat(text), calls) for _ in range(10)) * 1e6


def _import_time(statement: str, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", statement], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _imports(repeats: int) -> dict[str, float]:
    results: dict[str, list[float]] = {"onnxruntime": [], "ort_wrapper": [], "ort_wrapper+init": []}
    statements = {
        "onnxruntime": "import onnxruntime",
        "ort_wrapper": "import ort_wrapper",
        "ort_wrapper+init": "import ort_wrapper; ort_wrapper.init()",
    }
    for _ in range(repeats):  # interleave, one process each
        for name, statement in statements.items():
            results[name].append(_import_time(statement, 1))
    raw = statistics.median(results["onnxruntime"])
    out = {f"{k}_ms": statistics.median(v) * 1e3 for k, v in results.items()}
    out["ratio_import"] = statistics.median(results["ort_wrapper"]) / raw
    out["ratio_import_init"] = statistics.median(results["ort_wrapper+init"]) / raw
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--import-repeats", type=int, default=15)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    ort = ow.ort
    with tempfile.TemporaryDirectory() as tmp:
        path = models.save(models.add_model(), Path(tmp) / "add.onnx")
        feeds = {"X": np.ones((2, 3), np.float32), "Y": np.ones((2, 3), np.float32)}
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        raw = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        session = ow.SessionBuilder.from_file(path).cpu_only().intra_op_threads(1).build()
        ow.infer(path, feeds, providers="cpu", intra_op_threads=1)
        results = {
            "session_run": paired(
                ("raw", "wrapped"),
                lambda: raw.run(None, feeds),
                lambda: session.run(feeds),
                args.rounds,
                args.calls,
            ),
            "infer_cache_hit": paired(
                ("raw", "wrapped"),
                lambda: raw.run(None, feeds),
                lambda: ow.infer(path, feeds, providers="cpu", intra_op_threads=1),
                args.rounds,
                args.calls,
            ),
            "stat_us": _stat_cost(path, args.calls),
            "imports": _imports(args.import_repeats),
            "onnxruntime": ort.__version__,
            "python": sys.version.split()[0],
        }
    targets = {"session_run": 1.03, "infer_cache_hit": 1.10}
    for name, bound in targets.items():
        r = results[name]
        verdict = "ok" if r["ratio"] <= bound else "OVER"
        print(
            f"{name:<16} raw {r['raw_us']:.2f} us  wrapped {r['wrapped_us']:.2f} us  "
            f"ratio {r['ratio']:.3f} (target <= {bound}) {verdict}"
        )
    hit = results["infer_cache_hit"]
    print(
        f"                 of which one os.stat() of the model file: {results['stat_us']:.2f} us;"
        f" ratio without it {(hit['wrapped_us'] - results['stat_us']) / hit['raw_us']:.3f}"
    )
    imp = results["imports"]
    print(
        f"import           onnxruntime {imp['onnxruntime_ms']:.0f} ms  ort_wrapper "
        f"{imp['ort_wrapper_ms']:.0f} ms  ratio {imp['ratio_import']:.3f} (target <= 1.10); "
        f"with init() {imp['ort_wrapper+init_ms']:.0f} ms ratio {imp['ratio_import_init']:.3f}"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Overhead of ort_wrapper against the raw onnxruntime API, measured as ratios in one run.

    .venv/bin/python benchmarks/overhead.py [--rounds 100] [--calls 500] [--json out.json]
    .venv/bin/python benchmarks/overhead.py --check   # quick rerun against docs/performance.md

Targets: Session.run <= 1.03x raw InferenceSession.run (issue 2); infer() cache hit <= 1.5x raw,
goal 1.10x, with its per-call os.stat() of the model file (issue 28); `python -c "import
ort_wrapper"` <= 1.10x `python -c "import onnxruntime"`. Raw and wrapped batches are interleaved
round by round so machine load hits both alike; the ratio is that of their least disturbed
batches (see timing.py).
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
from typing import Any

import numpy as np

import ort_wrapper as ow

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from recorded import check, load
from timing import interleaved, paired

import models

# result key -> its row in docs/performance.md (the label --check finds the recorded ratio by)
LABELS = {
    "session_run": "`Session.run` vs raw `InferenceSession.run`",
    "infer_cache_hit": "`infer()` cache hit vs raw `InferenceSession.run`",
    "import": "`import ort_wrapper` vs `import onnxruntime`",
    "import_init": "`import ort_wrapper; ort_wrapper.init()` vs `import onnxruntime`",
}
TARGETS = {"session_run": 1.03, "infer_cache_hit": 1.5, "import": 1.10}
QUICK = {"rounds": 40, "calls": 500}  # --check: the run paths only, about 10 s


def _layers(
    raw: Any, session: ow.Session, path: Path, feeds: dict[str, Any], rounds: int, calls: int
) -> dict[str, float]:
    """µs per call of each layer of an infer() hit, measured interleaved: ORT's pybind call
    alone, Session.run, Session.run after one os.stat() of the model (the file check), the whole
    infer() hit, and the os.stat() alone; each its least disturbed batch."""
    text, names = str(path), [o.name for o in session.outputs]
    times = interleaved(
        {
            "binding": lambda: raw._sess.run(names, feeds, None),
            "session_run": lambda: session.run(feeds),
            "stat_and_run": lambda: (os.stat(text), session.run(feeds)),
            "infer_hit": lambda: ow.infer(path, feeds, providers="cpu", intra_op_threads=1),
            "stat_alone": lambda: os.stat(text),
        },
        rounds,
        calls,
    )
    return {f"{name}_us": min(t) * 1e6 for name, t in times.items()}


def _import_time(statement: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", statement], check=True)
    return time.perf_counter() - start


def _imports(repeats: int) -> dict[str, float]:
    statements = {
        "onnxruntime": "import onnxruntime",
        "ort_wrapper": "import ort_wrapper",
        "ort_wrapper+init": "import ort_wrapper; ort_wrapper.init()",
    }
    times: dict[str, list[float]] = {name: [] for name in statements}
    for _ in range(repeats):  # interleaved, one process each
        for name, statement in statements.items():
            times[name].append(_import_time(statement))
    medians = {name: statistics.median(t) for name, t in times.items()}
    return {
        **{f"{name}_ms": m * 1e3 for name, m in medians.items()},
        "import": medians["ort_wrapper"] / medians["onnxruntime"],
        "import_init": medians["ort_wrapper+init"] / medians["onnxruntime"],
    }


def _runs(rounds: int, calls: int) -> dict[str, Any]:
    ort = ow.ort
    with tempfile.TemporaryDirectory() as tmp:
        path = models.save(models.add_model(), Path(tmp) / "add.onnx")
        feeds = {"X": np.ones((2, 3), np.float32), "Y": np.ones((2, 3), np.float32)}
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        raw = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        session = ow.SessionBuilder.from_file(path).cpu_only().intra_op_threads(1).build()
        ow.infer(path, feeds, providers="cpu", intra_op_threads=1)
        return {
            "session_run": paired(
                ("raw", "wrapped"),
                lambda: raw.run(None, feeds),
                lambda: session.run(feeds),
                rounds,
                calls,
            ),
            "infer_cache_hit": paired(
                ("raw", "wrapped"),
                lambda: raw.run(None, feeds),
                lambda: ow.infer(path, feeds, providers="cpu", intra_op_threads=1),
                rounds,
                calls,
            ),
            "layers": _layers(raw, session, path, feeds, rounds, calls),
        }


def _report(results: dict[str, Any]) -> None:
    for name in ("session_run", "infer_cache_hit"):
        r = results[name]
        verdict = "ok" if r["ratio"] <= TARGETS[name] else "OVER"
        print(
            f"{name:<16} raw {r['raw_us']:.2f} us  wrapped {r['wrapped_us']:.2f} us  "
            f"ratio {r['ratio']:.3f} (target <= {TARGETS[name]}) {verdict}"
        )
    us = results["layers"]
    print(
        f"infer() hit, layer by layer (us): ORT's pybind call {us['binding_us']:.2f}; "
        f"Session.run +{us['session_run_us'] - us['binding_us']:.2f}; the file check (os.stat) "
        f"+{us['stat_and_run_us'] - us['session_run_us']:.2f} (alone {us['stat_alone_us']:.2f}); "
        f"infer's own +{us['infer_hit_us'] - us['stat_and_run_us']:.2f} = {us['infer_hit_us']:.2f}"
    )
    imp = results.get("imports")
    if imp:
        print(
            f"import           onnxruntime {imp['onnxruntime_ms']:.0f} ms  ort_wrapper "
            f"{imp['ort_wrapper_ms']:.0f} ms  ratio {imp['import']:.3f} (target <= 1.10); "
            f"with init() {imp['ort_wrapper+init_ms']:.0f} ms ratio {imp['import_init']:.3f}"
        )
    print(f"{results['load_before']} before, {results['load_after']} after")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--import-repeats", type=int, default=15)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--check", action="store_true", help=f"{QUICK}, no imports; compare")
    args = parser.parse_args()
    if args.check:
        vars(args).update(QUICK)
    results: dict[str, Any] = {"load_before": load()}
    results.update(_runs(args.rounds, args.calls))
    if not args.check:  # import time is no run path (tests/unit/runtime/test_init.py guards it)
        results["imports"] = _imports(args.import_repeats)
    results.update(load_after=load(), onnxruntime=ow.ort.__version__, python=sys.version.split()[0])
    _report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    if not args.check:
        return 0
    return check(
        {LABELS[name]: results[name]["ratio"] for name in ("session_run", "infer_cache_hit")}
    )


if __name__ == "__main__":
    sys.exit(main())

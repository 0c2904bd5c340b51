"""Wall time of `ort-wrapper check` on the installed ONNX Runtime, against its budgets.

    .venv/bin/python benchmarks/harness.py [--repeats 5] [--json out.json] [-- CHECK ARGS]

Arguments after ``--`` go to `ort-wrapper check`, e.g. ``-- --model M.onnx --input DIR``: with a
user model of up to 10 MB the same 60 s budget holds (issue 11; the time limits of the
determinism and stability sections bound it).

Budgets (issue 3): the whole check <= 60 s on a 2-core machine, the conformance (quality) section
<= 15 s. Each repeat is a fresh `ort-wrapper check --json` process; the report gives the median and
the worst run, per section, with the load average so figures can be compared.
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

BUDGETS = {"whole": 60.0, "quality": 15.0}


def _run_once(report: Path, extra: list[str]) -> dict[str, float]:
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "ort_wrapper.cli", "check", "--quiet", "--json", str(report),
         *extra],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    whole = time.monotonic() - start
    if done.returncode != 0:
        raise SystemExit(f"ort-wrapper check failed (exit {done.returncode}):\n{done.stdout}")
    sections = json.loads(report.read_text())["sections"]
    return {"whole": whole, **{s["name"]: s["seconds"] for s in sections}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path)
    parser.add_argument("check_args", nargs="*", help="after --: arguments of ort-wrapper check")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        runs = [_run_once(Path(tmp) / f"r{i}.json", args.check_args) for i in range(args.repeats)]
    summary = {
        name: {"median_s": statistics.median(r[name] for r in runs),
               "max_s": max(r[name] for r in runs)}
        for name in runs[0]
    }  # fmt: skip
    for name, figures in summary.items():
        budget = BUDGETS.get(name)
        verdict = (
            ""
            if budget is None
            else (f"  (budget {budget:.0f} s: {'ok' if figures['max_s'] <= budget else 'OVER'})")
        )
        median, worst = figures["median_s"], figures["max_s"]
        print(f"{name:<12} median {median:6.2f} s  max {worst:6.2f} s{verdict}")
    print(f"load average at start: {load:.2f} on {os.cpu_count()} cores, {args.repeats} runs")
    if args.json:
        args.json.write_text(json.dumps({"load": load, "runs": runs, "summary": summary}, indent=2))
    over = [n for n, b in BUDGETS.items() if summary[n]["max_s"] > b]
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())

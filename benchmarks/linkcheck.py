"""``link-check`` on a generated 100 MB Windows archive: the target is <= 2 s per scan.

    .venv/bin/python benchmarks/linkcheck.py [--members 200] [--rounds 3] [--out DIR]

Makes ``--members`` COFF objects with Debian's clang in MSVC mode (each ~0.5 MB: 300
functions, a 400 KB constant table, MSVC's /MD detect_mismatch pragmas), puts them in one
``big.lib`` with llvm-lib, and times two scans of it: a consumer object that needs one
member (the index is read, one member loaded), and one that needs every member (every
member read and judged: the worst case). Prints the median wall time of each.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ort_wrapper.linkcheck import link_check

CL = ["clang", "--driver-mode=cl", "--target=x86_64-pc-windows-msvc", "/MD", "/GS-", "/c"]
PRAGMAS = (
    '#pragma detect_mismatch("_ITERATOR_DEBUG_LEVEL", "0")\n'
    '#pragma detect_mismatch("RuntimeLibrary", "MD_DynamicRelease")\n'
)


def _source(i: int) -> str:
    body = [PRAGMAS, f"static const char blob[400000] = {{{i + 1}}};\n"]
    body += [f"int f{i}_{j}(int x) {{ return x * {j} + blob[{j}]; }}\n" for j in range(300)]
    return "".join(body)


def _object(folder: Path, i: int) -> Path:
    src = folder / f"m{i}.c"
    src.write_text(_source(i))
    out = folder / f"m{i}.obj"
    subprocess.run([*CL, str(src), f"/Fo{out}"], check=True)
    return out


def _consumer(folder: Path, name: str, members: int) -> Path:
    calls = " + ".join(f"f{i}_0(1)" for i in range(members))
    decls = "".join(f"int f{i}_0(int);\n" for i in range(members))
    src = folder / f"{name}.c"
    src.write_text(f"{decls}int main(void) {{ return {calls}; }}\n")
    out = folder / f"{name}.obj"
    subprocess.run([*CL, str(src), f"/Fo{out}"], check=True)
    return out


def _time(inputs: list[Path], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        report = link_check(inputs)
        times.append(time.perf_counter() - start)
        assert report.ok, "the generated link should pass"
    return statistics.median(times)


def main() -> None:
    """Build the archive once and print the two timings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, help="keep the files here (default: a temp folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.out or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        with ThreadPoolExecutor(4) as pool:
            objects = list(pool.map(lambda i: _object(folder, i), range(args.members)))
        lib = folder / "big.lib"
        subprocess.run(["llvm-lib", f"/out:{lib}", *map(str, objects)], check=True)
        one = _consumer(folder, "one", 1)
        every = _consumer(folder, "every", args.members)
        size = lib.stat().st_size / 1e6
        print(f"big.lib: {size:.1f} MB, {args.members} members")
        print(f"one member loaded:   {_time([one, lib], args.rounds):.3f} s (median)")
        print(f"every member loaded: {_time([every, lib], args.rounds):.3f} s (median)")


if __name__ == "__main__":
    main()

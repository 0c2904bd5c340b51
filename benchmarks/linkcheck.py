"""``link-check`` on a generated 100 MB archive: the target is <= 2 s per scan.

    .venv/bin/python benchmarks/linkcheck.py [--format coff|elf] [--members 230] [--rounds 3]

Makes ``--members`` objects (each ~0.45 MB: 300 functions, a 400 KB constant table; COFF ones
with Debian's clang in MSVC mode and MSVC's /MD detect_mismatch pragmas, ELF ones with
``cc -fPIC``), puts them in one archive (``llvm-lib``, or ``ar``), and times two scans of it:
a consumer object that needs one member, and one that needs every member (every member read
and judged: the worst case). Prints the median wall time of each.
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
CC = ["cc", "-fPIC", "-O1", "-c"]
PRAGMAS = (
    '#pragma detect_mismatch("_ITERATOR_DEBUG_LEVEL", "0")\n'
    '#pragma detect_mismatch("RuntimeLibrary", "MD_DynamicRelease")\n'
)


def _source(i: int) -> str:
    body = [f"const char blob{i}[400000] = {{{i + 1}}};\n"]
    body += [f"int f{i}_{j}(int x) {{ return x * {j} + blob{i}[{j}]; }}\n" for j in range(300)]
    return "".join(body)


def _compile(folder: Path, name: str, source: str, elf: bool) -> Path:
    src = folder / f"{name}.c"
    src.write_text(source if elf else PRAGMAS + source)
    out = folder / (f"{name}.o" if elf else f"{name}.obj")
    cmd = [*CC, str(src), "-o", str(out)] if elf else [*CL, str(src), f"/Fo{out}"]
    subprocess.run(cmd, check=True)
    return out


def _consumer(folder: Path, name: str, members: int, elf: bool) -> Path:
    calls = " + ".join(f"f{i}_0(1)" for i in range(members))
    decls = "".join(f"int f{i}_0(int);\n" for i in range(members))
    return _compile(folder, name, f"{decls}int main(void) {{ return {calls}; }}\n", elf)


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
    parser.add_argument("--format", choices=("coff", "elf"), default="coff")
    parser.add_argument("--members", type=int, default=230)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, help="keep the files here (default: a temp folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.out or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        elf = args.format == "elf"
        with ThreadPoolExecutor(4) as pool:
            objects = list(
                pool.map(lambda i: _compile(folder, f"m{i}", _source(i), elf), range(args.members))
            )
        lib = folder / ("libbig.a" if elf else "big.lib")
        archive = ["ar", "rcs", str(lib)] if elf else ["llvm-lib", f"/out:{lib}"]
        subprocess.run([*archive, *map(str, objects)], check=True)
        one = _consumer(folder, "one", 1, elf)
        every = _consumer(folder, "every", args.members, elf)
        size = lib.stat().st_size / 1e6
        print(f"{lib.name}: {size:.1f} MB, {args.members} members")
        print(f"one member loaded:   {_time([one, lib], args.rounds):.3f} s (median)")
        print(f"every member loaded: {_time([every, lib], args.rounds):.3f} s (median)")


if __name__ == "__main__":
    main()

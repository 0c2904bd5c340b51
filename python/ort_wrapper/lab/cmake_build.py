"""ORT's CMake build in the chroot, from /lab/src into /lab/build and /lab/install: configure
(the reduction's rewritten sources first), ninja with its progress, install;
every compile through ccache, whose folder outside the chroot is bind-mounted for the run."""

from __future__ import annotations

import functools
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from ..matrix import Matrix, Variant
from ..operators import OperatorConfig
from ..progress import Progress
from .chroot import Chroot
from .configure import SHIMS, cmake_configure_argv
from .paths import INSIDE, lab_dir
from .reduced import ccache_settings, reduce_kernels, reduction_flags
from .shared_cache import SharedCache, ccache_environment, collect_stats
from .trees import reuse_build, write_stamp

__all__ = ["build_tree", "ccache_runner"]

_CCACHE_ENV = ccache_environment(INSIDE.root, INSIDE.ccache, INSIDE.ccache_config)
_NINJA_STEP = re.compile(r"^\[(\d+)/(\d+)\]")


def ccache_runner(
    root: Chroot, log_file: Path, env: dict[str, str] | None = None
) -> Callable[..., None]:
    """``Chroot.run`` with ccache's environment (plus ``env``) and its folder, which lives
    outside the chroot so a new chroot (other packages) keeps its hits."""
    return functools.partial(
        root.run,
        env={**_CCACHE_ENV, **(env or {})},
        log_file=log_file,
        binds={INSIDE.ccache: lab_dir() / "ccache"},
    )


def _ninja(run: Callable[..., None], jobs: int) -> int:
    """Build with ninja, showing its progress; returns the number of steps run."""
    bar: list[Progress] = []

    def on_line(line: str) -> None:
        match = _NINJA_STEP.match(line)
        if not match:
            return
        done, total = int(match[1]), int(match[2])
        if not bar:
            bar.append(Progress("ninja", total, unit=" steps"))
        bar[0].total = total
        bar[0].advance(done - bar[0].done)

    run(["ninja", "-j", str(jobs)], cwd=INSIDE.build, on_line=on_line)
    if bar:
        bar[0].close()
        return bar[0].total
    return 0


def _configure(
    root: Chroot,
    matrix: Matrix,
    variant: Variant,
    operators: OperatorConfig | None,
    run: Callable[[list[str]], None],
) -> None:
    """Fresh build tree (the reduction's rewritten sources first), then CMake."""
    shims = root.host_path(INSIDE.shims)
    shutil.rmtree(shims, ignore_errors=True)
    shutil.copytree(SHIMS, shims)
    root.host_path(INSIDE.build).mkdir(parents=True)
    if operators:
        reduce_kernels(root.host_path, run, operators, INSIDE.src, INSIDE.build)
    flags = {**matrix.cmake_flags(variant.name), **reduction_flags(operators)}
    run(cmake_configure_argv(INSIDE.src, INSIDE.build, INSIDE.install, INSIDE.shims, flags))


def build_tree(
    root: Chroot,
    matrix: Matrix,
    variant: Variant,
    key: str,
    log_file: Path,
    jobs: int,
    operators: OperatorConfig | None = None,
    shared: SharedCache | None = None,
) -> dict[str, float]:
    """Configure, build and install into /lab/install, unless already done for ``key`` (the
    build tree's stamp is written after the install; finalize only reads the install).
    Returns each step's time and the number of ninja steps (nothing when reused)."""
    if reuse_build(root, key):
        return {}
    run = ccache_runner(root, log_file, ccache_settings(root.host_path(INSIDE.src), operators))
    timings: dict[str, float] = {}
    start = time.monotonic()
    _configure(root, matrix, variant, operators, run)
    timings["configure_s"] = time.monotonic() - start
    start = time.monotonic()
    run(["ccache", "--zero-stats"])
    timings["ninja_steps"] = _ninja(run, jobs)
    timings["build_s"] = time.monotonic() - start
    timings.update(collect_stats(run, shared or SharedCache(), log_file).as_timings())
    start = time.monotonic()
    run(["cmake", "--install", INSIDE.build])
    timings["install_s"] = time.monotonic() - start
    write_stamp(root.host_path(INSIDE.build), key)
    return timings

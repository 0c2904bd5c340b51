"""The lab's pipeline: a variant built from a pinned ORT source in a Debian chroot,
installed, and finalized from /lab/install into a new directory under /lab/results, each
stage skipped when its output already carries its key (``keys``, ``trees``); also the
reduced build for a set of models, and the dry run of every patch."""

from __future__ import annotations

import functools
import json
import platform
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BuildError
from ..files import write_json_atomic
from ..finalize.stage import finalize
from ..matrix import Matrix, Variant
from ..operators import OperatorConfig
from .chroot import Chroot, ensure_chroot
from .cmake_build import build_tree, ccache_runner
from .keys import build_key, result_key, source_key
from .paths import INSIDE, downloads_dir, lab_dir, lab_lock
from .reduced import operators_for_models
from .shared_cache import SharedCache, write_ccache_config
from .source import OrtSource, fetch_source, unpack_tarball
from .source_patches import PatchStatus, dry_run, patch_files
from .static_deps import DEPS_LIB, build_static_deps, static_deps_key
from .trees import drop_older_results, prepare_source

__all__ = ["LabResult", "check_patches", "reduced_for_models", "run_lab"]


@dataclass(frozen=True)
class LabResult:
    """A finalized distribution made by the lab, and how long each stage took."""

    key: str  # the result key (build inputs and finalize code)
    dist: Path  # on the host
    dist_inside: str  # the same directory as seen inside the chroot
    chroot: Chroot
    cached: bool
    timings: dict[str, float] = field(default_factory=dict)
    patches: tuple[PatchStatus, ...] = ()
    reduced_for: OperatorConfig | None = None  # a reduced build's operators


def check_patches(matrix: Matrix, source: OrtSource, patches_dir: Path) -> list[dict[str, Any]]:
    """Dry-run every ``*.patch`` in ``patches_dir`` against the pristine ``source``.

    Each entry: the patch, whether it applies (or why not), and the variants whose series
    list it.
    """
    with lab_lock():  # the lab's downloads are shared with run_lab
        tarball = fetch_source(source, downloads_dir())
    report = []
    with tempfile.TemporaryDirectory(prefix="ort-patch-check-") as tmp:
        unpack_tarball(tarball, Path(tmp))
        for patch in sorted(patches_dir.glob("*.patch")):
            status = dry_run(Path(tmp), patch)
            users = [v.name for v in matrix.variants.values() if patch.name in v.patches]
            report.append({**status.to_json(), "source": source.version, "variants": users})
    return report


def _check_platform(variant: Variant) -> None:
    here = f"{platform.machine()}-linux"
    if here not in variant.platforms:
        raise BuildError(
            f"variant {variant.name!r} is for {', '.join(variant.platforms)}, not {here}"
        )


def run_lab(
    matrix: Matrix,
    variant_name: str,
    source: OrtSource,
    patches_dir: Path,
    *,
    jobs: int,
    prune: bool = True,
    operators: OperatorConfig | None = None,
    shared: SharedCache | None = None,
) -> LabResult:
    """Build ``variant_name`` from ``source`` in the chroot and finalize it (cached by input);
    with ``operators``, a build reduced to those operators' kernels; ``shared``: ccache's
    second level (``SharedCache.resolve``)."""
    variant = matrix.variant(variant_name)
    _check_platform(variant)
    series = patch_files(patches_dir, variant.patches)
    key = build_key(matrix, variant, source, series, operators)
    name = f"{variant.name}-reduced" if operators else variant.name
    log_file = lab_dir() / "logs" / f"{name}-{key}.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with lab_lock():
        root = ensure_chroot(source.suite, lab_dir() / "chroots", log_file)
        # finalize's arguments but the paths of this run and the patch statuses
        finalize_args: dict[str, Any] = {
            "version": source.version,
            "sysroot": root.root,
            "source": {"version": source.version, "url": source.pool, "sha256": source.sha256},
            "prune": prune,
            "reduced_for": operators,
        }
        static = variant.link_mode == "static"
        if static:  # their archives come first, before the system's shared libraries
            finalize_args["lib_dirs"] = (DEPS_LIB,)
        final = result_key(f"{key}:{static_deps_key()}" if static else key, finalize_args)
        dist_inside = f"{INSIDE.results}/{name}-{final}"
        dist = root.host_path(dist_inside)
        done = dist.with_name(f"{dist.name}.json")
        result = functools.partial(LabResult, final, dist, dist_inside, root, reduced_for=operators)
        if done.is_file():
            kept = json.loads(done.read_text())
            return result(True, kept["timings"], tuple(PatchStatus(**p) for p in kept["patches"]))
        shared = shared or SharedCache()
        write_ccache_config(root.host_path(INSIDE.ccache_config), shared)
        start = time.monotonic()
        tarball = fetch_source(source, downloads_dir())
        statuses = prepare_source(root, tarball, series, source_key(source, series))
        timings = {"source_s": time.monotonic() - start}
        timings.update(build_tree(root, matrix, variant, key, log_file, jobs, operators, shared))
        if static:
            start = time.monotonic()
            build_static_deps(root.host_path, downloads_dir(), ccache_runner(root, log_file))
            timings["static_deps_s"] = time.monotonic() - start
        start = time.monotonic()
        dist.parent.mkdir(parents=True, exist_ok=True)
        install, build = root.host_path(INSIDE.install), root.host_path(INSIDE.build)
        patches = tuple(s.to_json() for s in statuses)
        finalize(install, build, variant, dist, patches=patches, **finalize_args)
        timings["finalize_s"] = time.monotonic() - start
        drop_older_results(dist)
        record = {"key": final, "buildKey": key, "timings": timings, "patches": list(patches)}
        write_json_atomic(done, record)
        return result(False, timings, statuses)


def reduced_for_models(
    matrix: Matrix,
    variant_name: str,
    source: OrtSource,
    patches_dir: Path,
    models: list[Path],
    *,
    jobs: int,
    prune: bool = True,
    shared: SharedCache | None = None,
) -> tuple[LabResult, LabResult]:
    """The full build (cached), then the build reduced to what ``models`` need: the operators
    they use and those the full build's optimisers turn them into."""
    full = run_lab(matrix, variant_name, source, patches_dir, jobs=jobs, prune=prune, shared=shared)
    log_file = lab_dir() / "logs" / f"{variant_name}-reduce-config.log"
    run = functools.partial(full.chroot.run, log_file=log_file)
    with lab_lock():
        operators = operators_for_models(full.chroot, full.dist_inside, models, run)
    reduced = run_lab(
        matrix, variant_name, source, patches_dir, jobs=jobs, prune=prune, operators=operators,
        shared=shared,
    )  # fmt: skip
    return full, reduced

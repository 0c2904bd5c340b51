"""The native build lab: a variant built from a pinned ORT source in a Debian chroot,
installed, and finalized from /lab/install into a new directory under /lab/results, cached by
a hash of every input.

Inside the chroot the paths are fixed (/lab/src, /lab/build, /lab/install, /lab/ccache) so
ccache, with its base directory at /lab, hits across inputs that differ only in a patch.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import logging
import platform
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BuildError
from ..files import cache_root, write_json_atomic
from ..finalize.stage import finalize
from ..matrix import Matrix, Variant
from ..operators import OperatorConfig
from ..progress import Progress
from . import chroot as chroot_mod
from .configure import SHIMS, cmake_configure_argv
from .imports import module_closure
from .patches import PatchStatus, apply_series, dry_run, patch_files
from .reduced import ccache_settings, operators_for_models, reduce_kernels, reduction_flags
from .shared_cache import SharedCache, ccache_environment, collect_stats, write_ccache_config
from .source import OrtSource, fetch_source, unpack_tarball
from .static_deps import DEPS_LIB, build_static_deps, static_deps_key

__all__ = [
    "LabResult",
    "build_key",
    "check_patches",
    "lab_dir",
    "reduced_for_models",
    "result_key",
    "run_lab",
]

log = logging.getLogger(__name__)

_LAB_PKG = Path(__file__).resolve().parent
_SRC, _BUILD, _INSTALL, _CCACHE, _SHIMS = (
    "/lab/src",
    "/lab/build",
    "/lab/install",
    "/lab/ccache",
    "/lab/shims",
)
_TREES = "/lab/trees"  # earlier build trees with their installs, by build key
_KEPT_TREES = 2  # a variant's full and reduced builds
_CCACHE_ENV = ccache_environment("/lab", _CCACHE, "/lab/ccache.conf")
_NINJA_STEP = re.compile(r"^\[(\d+)/(\d+)\]")
_STAMP = ".ort-builder-key"


@dataclass(frozen=True)
class LabResult:
    """A finalized distribution made by the lab, and how long each stage took."""

    key: str  # the result key (build inputs and finalize code)
    dist: Path  # on the host
    dist_inside: str  # the same directory as seen inside the chroot
    chroot: chroot_mod.Chroot
    cached: bool
    timings: dict[str, float] = field(default_factory=dict)
    patches: tuple[PatchStatus, ...] = ()
    reduced_for: OperatorConfig | None = None  # a reduced build's operators


def lab_dir() -> Path:
    """The lab's part of the cache."""
    return cache_root() / "lab"


def _digest_files(digest: Any, files: list[Path], base: Path) -> None:
    for path in files:
        digest.update(str(path.relative_to(base)).encode())
        digest.update(path.read_bytes())


def _tree(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def _json(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, default=str).encode()


def build_key(
    matrix: Matrix,
    variant: Variant,
    source: OrtSource,
    patches: tuple[Path, ...],
    operators: OperatorConfig | None = None,
) -> str:
    """A hash of every input of the CMake build: the whole variant row (every field, so a
    field added later counts too), the common flags, this source's pin, the chroot's
    packages, the patches' names and bytes, the operator config of a reduced build, and the
    lab's code (which holds its native flags and shims)."""
    digest = hashlib.sha256()
    spec = {
        "variant": dataclasses.asdict(variant),
        "commonFlags": dict(matrix.common_cmake_flags),
        "source": dataclasses.asdict(source),
        "packages": list(chroot_mod.PACKAGES),
        "operators": operators.text() if operators else None,
    }
    digest.update(_json(spec))
    _digest_files(digest, list(patches), patches[0].parent if patches else Path())
    _digest_files(digest, _tree(_LAB_PKG), _LAB_PKG)
    return digest.hexdigest()[:16]


def result_key(build: str, finalize_args: Mapping[str, Any]) -> str:
    """``build`` plus every argument ``finalize`` is called with (``prune`` ...) and the
    code finalize imports (``module_closure``). (The patch statuses finalize records follow
    from the build's inputs.)"""
    digest = hashlib.sha256(build.encode())
    digest.update(_json(dict(finalize_args)))
    _digest_files(digest, module_closure(finalize.__module__), _LAB_PKG.parent)
    return digest.hexdigest()[:16]


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def _stamp(directory: Path) -> str:
    stamp = directory / _STAMP
    return stamp.read_text().strip() if stamp.is_file() else ""


def _source_key(source: OrtSource, series: tuple[Path, ...]) -> str:
    """What /lab/src depends on: the tarball's pin, the series and the code applying it (not
    the CMake flags or an operator config, so a full and a reduced build share one source)."""
    digest = hashlib.sha256(source.sha256.encode())
    _digest_files(digest, list(series), series[0].parent if series else Path())
    digest.update((_LAB_PKG / "patches.py").read_bytes())
    return digest.hexdigest()[:16]


def _prepare_source(
    root: chroot_mod.Chroot, tarball: Path, series: tuple[Path, ...], key: str
) -> tuple[PatchStatus, ...]:
    """Unpack the tarball to /lab/src and apply the series, unless already done for ``key``
    (:func:`_source_key`)."""
    src = root.host_path(_SRC)
    record = src / ".ort-builder-patches.json"
    if _stamp(src) == key and record.is_file():
        return tuple(PatchStatus(**p) for p in json.loads(record.read_text()))
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    unpack_tarball(tarball, src)
    statuses = apply_series(src, series)
    write_json_atomic(record, [s.to_json() for s in statuses])
    (src / _STAMP).write_text(key + "\n")
    return statuses


def _drop_older_results(dist: Path) -> None:
    """Keep one result per variant: the build tree behind an older one is gone anyway."""
    variant = dist.name.rsplit("-", 1)[0]
    mine = re.compile(rf"^{re.escape(variant)}-[0-9a-f]{{16}}(\.json)?$")
    for other in dist.parent.iterdir():
        if mine.match(other.name) and other.name not in (dist.name, f"{dist.name}.json"):
            if other.is_dir():
                shutil.rmtree(other)
            else:
                other.unlink()


def check_patches(matrix: Matrix, source: OrtSource, patches_dir: Path) -> list[dict[str, Any]]:
    """Dry-run every ``*.patch`` in ``patches_dir`` against the pristine ``source``.

    Each entry: the patch, whether it applies (or why not), and the variants whose series
    list it.
    """
    with _locked(lab_dir() / ".lock"):  # the lab's downloads are shared with run_lab
        tarball = fetch_source(source, cache_root() / "downloads")
    report = []
    with tempfile.TemporaryDirectory(prefix="ort-patch-check-") as tmp:
        unpack_tarball(tarball, Path(tmp))
        for patch in sorted(patches_dir.glob("*.patch")):
            status = dry_run(Path(tmp), patch)
            users = [v.name for v in matrix.variants.values() if patch.name in v.patches]
            report.append({**status.to_json(), "source": source.version, "variants": users})
    return report


def _ninja(
    root: chroot_mod.Chroot,
    env: dict[str, str],
    log_file: Path,
    jobs: int,
    binds: dict[str, Path],
) -> int:
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

    root.run(
        ["ninja", "-j", str(jobs)],
        cwd=_BUILD,
        env=env,
        log_file=log_file,
        on_line=on_line,
        binds=binds,
    )
    if bar:
        bar[0].close()
        return bar[0].total
    return 0


def _configure(
    root: chroot_mod.Chroot,
    matrix: Matrix,
    variant: Variant,
    operators: OperatorConfig | None,
    run: Callable[[list[str]], None],
) -> None:
    """Fresh build tree (the reduction's rewritten sources first), then CMake."""
    shims = root.host_path(_SHIMS)
    shutil.rmtree(shims, ignore_errors=True)
    shutil.copytree(SHIMS, shims)
    root.host_path(_BUILD).mkdir(parents=True)
    if operators:
        reduce_kernels(root.host_path, run, operators, _SRC, _BUILD)
    flags = {**matrix.cmake_flags(variant.name), **reduction_flags(operators)}
    run(cmake_configure_argv(_SRC, _BUILD, _INSTALL, _SHIMS, flags))


def _build(
    root: chroot_mod.Chroot,
    matrix: Matrix,
    variant: Variant,
    key: str,
    log_file: Path,
    jobs: int,
    operators: OperatorConfig | None = None,
    shared: SharedCache | None = None,
) -> dict[str, float]:
    """Configure, build and install into /lab/install, unless already done for ``key`` (the
    build tree's stamp is written after the install; finalize only reads the install)."""
    build = root.host_path(_BUILD)
    install = root.host_path(_INSTALL)
    if _stamp(build) == key and install.is_dir():
        return {}
    _stash(root)
    if _unstash(root, key):
        return {}
    env = {**_CCACHE_ENV, **ccache_settings(root.host_path(_SRC), operators)}
    binds = _ccache_binds()

    def run(argv: list[str]) -> None:
        root.run(argv, env=env, log_file=log_file, binds=binds)

    timings: dict[str, float] = {}
    start = time.monotonic()
    _configure(root, matrix, variant, operators, run)
    timings["configure_s"] = time.monotonic() - start
    start = time.monotonic()
    run(["ccache", "--zero-stats"])
    timings["ninja_steps"] = _ninja(root, env, log_file, jobs, binds)
    timings["build_s"] = time.monotonic() - start
    stats = collect_stats(
        lambda a, f: root.run(a, env=env, binds=binds, on_line=f), shared or SharedCache(), log_file
    )
    timings.update(stats.as_timings())
    start = time.monotonic()
    run(["cmake", "--install", _BUILD])
    timings["install_s"] = time.monotonic() - start
    (build / _STAMP).write_text(key + "\n")
    return timings


def _ccache_binds() -> dict[str, Path]:
    """ccache lives outside the chroot, so a new chroot (other packages) keeps its hits."""
    return {_CCACHE: lab_dir() / "ccache"}


def _static_deps(root: chroot_mod.Chroot, log_file: Path) -> str:
    """The static dependency archives (``static_deps``), built once; their folder inside."""

    def run(argv: list[str]) -> None:
        root.run(argv, env=_CCACHE_ENV, log_file=log_file, binds=_ccache_binds())

    return build_static_deps(root.host_path, cache_root() / "downloads", run)


def _stash(root: chroot_mod.Chroot) -> None:
    """Move the build tree and its install aside under their key (CMake's absolute paths
    come back with them), so switching between a full and a reduced build only re-finalizes;
    the newest ``_KEPT_TREES`` are kept. An unfinished tree is removed."""
    build, install = root.host_path(_BUILD), root.host_path(_INSTALL)
    key = _stamp(build)
    if key and install.is_dir():
        target = root.host_path(f"{_TREES}/{key}")
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        build.rename(target / "build")
        install.rename(target / "install")
        trees = sorted(target.parent.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in trees[_KEPT_TREES:]:
            shutil.rmtree(old)
    shutil.rmtree(build, ignore_errors=True)
    shutil.rmtree(install, ignore_errors=True)


def _unstash(root: chroot_mod.Chroot, key: str) -> bool:
    """Put the tree stashed for ``key`` back in place; False when there is none."""
    stashed = root.host_path(f"{_TREES}/{key}")
    if not (stashed / "install").is_dir() or _stamp(stashed / "build") != key:
        return False
    (stashed / "build").rename(root.host_path(_BUILD))
    (stashed / "install").rename(root.host_path(_INSTALL))
    stashed.rmdir()
    return True


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
    second level (:meth:`SharedCache.resolve`)."""
    variant = matrix.variant(variant_name)
    _check_platform(variant)
    series = patch_files(patches_dir, variant.patches)
    key = build_key(matrix, variant, source, series, operators)
    name = f"{variant.name}-reduced" if operators else variant.name
    base = lab_dir()
    log_file = base / "logs" / f"{name}-{key}.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with _locked(base / ".lock"):
        root = chroot_mod.ensure_chroot(source.suite, base / "chroots", log_file)
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
        dist_inside = f"/lab/results/{name}-{final}"
        dist = root.host_path(dist_inside)
        done = dist.parent / f"{dist.name}.json"
        if done.is_file():
            record = json.loads(done.read_text())
            return LabResult(
                final,
                dist,
                dist_inside,
                root,
                cached=True,
                timings=record["timings"],
                patches=tuple(PatchStatus(**p) for p in record["patches"]),
                reduced_for=operators,
            )
        shared = shared or SharedCache()
        write_ccache_config(root.host_path(_CCACHE_ENV["CCACHE_CONFIGPATH"]), shared)
        start = time.monotonic()
        tarball = fetch_source(source, cache_root() / "downloads")
        statuses = _prepare_source(root, tarball, series, _source_key(source, series))
        timings = {"source_s": time.monotonic() - start}
        timings.update(_build(root, matrix, variant, key, log_file, jobs, operators, shared))
        if static:
            start = time.monotonic()
            _static_deps(root, log_file)
            timings["static_deps_s"] = time.monotonic() - start
        start = time.monotonic()
        dist.parent.mkdir(parents=True, exist_ok=True)
        finalize(
            root.host_path(_INSTALL),
            root.host_path(_BUILD),
            variant,
            dist,
            patches=tuple(s.to_json() for s in statuses),
            **finalize_args,
        )
        timings["finalize_s"] = time.monotonic() - start
        _drop_older_results(dist)
        write_json_atomic(
            done,
            {
                "key": final,
                "buildKey": key,
                "timings": timings,
                "patches": [s.to_json() for s in statuses],
            },
        )
        return LabResult(final, dist, dist_inside, root, False, timings, statuses, operators)


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

    def run(argv: list[str], env: dict[str, str] | None = None) -> None:
        full.chroot.run(argv, env=env, log_file=log_file)

    with _locked(lab_dir() / ".lock"):
        operators = operators_for_models(full.chroot, full.dist_inside, models, run)
    reduced = run_lab(
        matrix, variant_name, source, patches_dir, jobs=jobs, prune=prune, operators=operators,
        shared=shared,
    )  # fmt: skip
    return full, reduced

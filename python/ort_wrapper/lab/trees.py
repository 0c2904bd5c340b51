"""The lab's directories and the keys they were made for: each of /lab/src, /lab/build and
/lab/deps carries a stamp with its key; a build tree made for another key is stashed under
/lab/trees (with its install) and put back when that key comes again; one finalized result is
kept per variant."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from ..files import write_json_atomic
from .chroot import Chroot
from .paths import INSIDE
from .source import unpack_tarball
from .source_patches import PatchStatus, apply_series

__all__ = ["drop_older_results", "prepare_source", "read_stamp", "reuse_build", "write_stamp"]

_STAMP = ".ort-builder-key"
_KEPT_TREES = 2  # a variant's full and reduced builds


def read_stamp(directory: Path) -> str:
    """The key ``directory`` was made for ('' when it has none)."""
    stamp = directory / _STAMP
    return stamp.read_text().strip() if stamp.is_file() else ""


def write_stamp(directory: Path, key: str) -> None:
    """Mark ``directory`` as made for ``key`` (written last, once it is complete)."""
    (directory / _STAMP).write_text(key + "\n")


def prepare_source(
    root: Chroot, tarball: Path, series: tuple[Path, ...], key: str
) -> tuple[PatchStatus, ...]:
    """Unpack the tarball to /lab/src and apply the series, unless already done for ``key``
    (``keys.source_key``)."""
    src = root.host_path(INSIDE.src)
    record = src / ".ort-builder-patches.json"
    if read_stamp(src) == key and record.is_file():
        return tuple(PatchStatus(**p) for p in json.loads(record.read_text()))
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    unpack_tarball(tarball, src)
    statuses = apply_series(src, series)
    write_json_atomic(record, [s.to_json() for s in statuses])
    write_stamp(src, key)
    return statuses


def reuse_build(root: Chroot, key: str) -> bool:
    """Whether /lab/build and /lab/install hold the build for ``key``: already in place, or
    put back from /lab/trees. When not, both are left absent (a tree made for another key
    stashed, an unfinished one removed)."""
    build, install = root.host_path(INSIDE.build), root.host_path(INSIDE.install)
    if read_stamp(build) == key and install.is_dir():
        return True
    _stash(root)
    stashed = root.host_path(f"{INSIDE.trees}/{key}")
    if not (stashed / "install").is_dir() or read_stamp(stashed / "build") != key:
        return False
    (stashed / "build").rename(build)
    (stashed / "install").rename(install)
    stashed.rmdir()
    return True


def _stash(root: Chroot) -> None:
    """Move the build tree and its install aside under their key (CMake's absolute paths
    come back with them), so switching between a full and a reduced build only re-finalizes;
    the newest ``_KEPT_TREES`` are kept. An unfinished tree is removed."""
    build, install = root.host_path(INSIDE.build), root.host_path(INSIDE.install)
    key = read_stamp(build)
    if key and install.is_dir():
        target = root.host_path(f"{INSIDE.trees}/{key}")
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        build.rename(target / "build")
        install.rename(target / "install")
        trees = sorted(target.parent.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in trees[_KEPT_TREES:]:
            shutil.rmtree(old)
    shutil.rmtree(build, ignore_errors=True)
    shutil.rmtree(install, ignore_errors=True)


def drop_older_results(dist: Path) -> None:
    """Keep one result per variant: the build tree behind an older one is gone anyway."""
    variant = dist.name.rsplit("-", 1)[0]
    mine = re.compile(rf"^{re.escape(variant)}-[0-9a-f]{{16}}(\.json)?$")
    for other in dist.parent.iterdir():
        if mine.match(other.name) and other.name not in (dist.name, f"{dist.name}.json"):
            if other.is_dir():
                shutil.rmtree(other)
            else:
                other.unlink()

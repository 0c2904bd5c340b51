"""Where the lab keeps its work: the fixed paths inside the chroot (one record, ``INSIDE``),
and the lab's part of the cache on the host with the lock a lab run holds."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..files import cache_root

__all__ = ["INSIDE", "LabPaths", "downloads_dir", "lab_dir", "lab_lock"]


@dataclass(frozen=True)
class LabPaths:
    """The lab's paths inside the chroot. They are fixed so that ccache, with its base
    directory at ``root``, hits across builds whose inputs differ only in a patch."""

    root: str = "/lab"
    src: str = "/lab/src"  # the patched source (stamped with the source key)
    build: str = "/lab/build"  # the build tree (stamped with the build key)
    install: str = "/lab/install"  # its install, which finalize reads
    trees: str = "/lab/trees"  # earlier build trees with their installs, by build key
    results: str = "/lab/results"  # finalized distributions and their records
    ccache: str = "/lab/ccache"  # bind-mounted from the host's lab_dir()/ccache
    ccache_config: str = "/lab/ccache.conf"  # ccache's config for one build (shared_cache)
    shims: str = "/lab/shims"  # the CMake package configs of shims/
    deps: str = "/lab/deps"  # the static dependencies: src, build, install
    operators: str = "/lab/operators.config"  # a reduced build's operator config
    python: str = "/lab/ort-wrapper-py"  # this package, copied in for reduce-config
    models: str = "/lab/models"  # the models reduce-config reads


INSIDE = LabPaths()


def lab_dir() -> Path:
    """The lab's part of the cache."""
    return cache_root() / "lab"


def downloads_dir() -> Path:
    """Where source tarballs are kept (shared with the other tarball users of the cache)."""
    return cache_root() / "downloads"


@contextmanager
def lab_lock() -> Iterator[None]:
    """Hold the lab's lock: one lab run (and patch check) at a time."""
    path = lab_dir() / ".lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield

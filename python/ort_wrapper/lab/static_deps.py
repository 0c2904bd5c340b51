"""Static, position-independent builds of the libraries trixie ships only as shared objects
(``static_deps.json``), from Debian's orig tarballs, in the chroot: finalize absorbs them into
``libonnxruntime.a``, so the lab's static distribution links alone as the ``ort`` crate links
it (with the C++ runtime and nothing else)."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

from . import configure
from .paths import INSIDE
from .source import OrtSource, fetch_source, unpack_tarball
from .trees import read_stamp, write_stamp

__all__ = ["DEPS_LIB", "build_static_deps", "static_deps_key"]

_TABLE = Path(__file__).with_name("static_deps.json")
_ROOT = INSIDE.deps
DEPS_LIB = f"{_ROOT}/install/lib"  # inside the chroot: where the archives land
_COMMON = {
    "CMAKE_BUILD_TYPE": "Release",
    "BUILD_SHARED_LIBS": "OFF",
    "CMAKE_POSITION_INDEPENDENT_CODE": "ON",
    "CMAKE_INSTALL_PREFIX": f"{_ROOT}/install",
    "CMAKE_INSTALL_LIBDIR": "lib",
    "CMAKE_C_COMPILER_LAUNCHER": "ccache",
    "CMAKE_CXX_COMPILER_LAUNCHER": "ccache",
}


def _table() -> dict[str, dict[str, object]]:
    return {k: v for k, v in json.loads(_TABLE.read_text()).items() if k != "comment"}


def static_deps_key() -> str:
    """A hash of what the archives depend on: the pins, the flags and the code that makes
    their command lines (this module and ``configure``)."""
    digest = hashlib.sha256(_TABLE.read_bytes())
    for code in (__file__, configure.__file__):
        digest.update(Path(code).read_bytes())
    return digest.hexdigest()[:16]


def _configure_argv(name: str, flags: dict[str, str]) -> list[str]:
    return configure.cmake_argv(
        f"{_ROOT}/src/{name}", f"{_ROOT}/build/{name}", {**_COMMON, **flags}
    )


def build_static_deps(
    host_path: Callable[[str], Path], downloads: Path, run: Callable[[list[str]], None]
) -> str:
    """Build and install every library of ``static_deps.json`` under ``INSIDE.deps`` (once per
    :func:`static_deps_key`); returns the folder holding the archives, as the chroot sees it.
    ``run`` runs a command in the chroot (with ccache); ``host_path`` maps a chroot path."""
    key = static_deps_key()
    if read_stamp(host_path(_ROOT)) == key:
        return DEPS_LIB
    shutil.rmtree(host_path(_ROOT), ignore_errors=True)
    for name, pin in _table().items():
        flags = pin.pop("cmake")
        assert isinstance(flags, dict)
        tarball = fetch_source(OrtSource(**pin), downloads)  # type: ignore[arg-type]
        source = host_path(f"{_ROOT}/src/{name}")
        source.mkdir(parents=True)
        unpack_tarball(tarball, source)
        run(_configure_argv(name, flags))
        run(["cmake", "--build", f"{_ROOT}/build/{name}"])
        run(["cmake", "--install", f"{_ROOT}/build/{name}"])
    write_stamp(host_path(_ROOT), key)
    return DEPS_LIB

"""The NVIDIA side of the host: the driver (libcuda.so.1, its version and device count) and the
CUDA libraries installed where the loader, a CUDA toolkit or the nvidia-* wheels put them."""

from __future__ import annotations

import ctypes
import glob
import logging
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..elf.resolve import DEFAULT_DIRS, conf_dirs, env_dirs
from .procmaps import loaded_libraries

__all__ = [
    "CudaLibrary",
    "DriverInfo",
    "cuda_library_dirs",
    "find_cuda_libraries",
    "nvidia_driver",
    "nvidia_wheel_dirs",
]

log = logging.getLogger(__name__)

_CUDA_ERRORS = {
    3: "CUDA_ERROR_NOT_INITIALIZED",
    35: "CUDA_ERROR_INSUFFICIENT_DRIVER",
    100: "CUDA_ERROR_NO_DEVICE",
    101: "CUDA_ERROR_INVALID_DEVICE",
    999: "CUDA_ERROR_UNKNOWN",
    804: "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE",
}


@dataclass(frozen=True)
class DriverInfo:
    """What loading libcuda.so.1 and asking it for devices gave."""

    found: bool
    path: str | None = None
    version: str | None = None  # CUDA driver API version, e.g. "13.0"
    device_count: int = 0
    error: str | None = None

    @property
    def summary(self) -> str:
        """One line for reports."""
        if not self.found:
            return f"no NVIDIA driver: {self.error}"
        devices = f"{self.device_count} device(s)" if self.error is None else self.error
        return f"NVIDIA driver (CUDA {self.version}) at {self.path}: {devices}"


@lru_cache(maxsize=1)
def nvidia_driver() -> DriverInfo:
    """Load libcuda.so.1 and report its version and device count (cached per process)."""
    from .untrusted import host_library

    try:
        lib = host_library("libcuda.so.1")
    except OSError as exc:
        return DriverInfo(False, error=f"libcuda.so.1 cannot be loaded ({exc})")
    path = next((str(p) for p in loaded_libraries() if p.name.startswith("libcuda.so")), None)
    version = ctypes.c_int(0)
    lib.cuDriverGetVersion(ctypes.byref(version))
    text = f"{version.value // 1000}.{version.value % 1000 // 10}" if version.value else None
    status = lib.cuInit(0)
    if status != 0:
        return DriverInfo(True, path, text, 0, f"cuInit failed: {_CUDA_ERRORS.get(status, status)}")
    count = ctypes.c_int(0)
    status = lib.cuDeviceGetCount(ctypes.byref(count))
    if status != 0:
        error = f"cuDeviceGetCount failed: {_CUDA_ERRORS.get(status, status)}"
        return DriverInfo(True, path, text, 0, error)
    if count.value == 0:
        return DriverInfo(True, path, text, 0, "no CUDA device")
    return DriverInfo(True, path, text, count.value)


@dataclass(frozen=True)
class CudaLibrary:
    """One copy of a versioned CUDA library found on this host, e.g. libcudart.so.13."""

    soname: str  # the file name the loader asks for: libcudart.so.13
    path: Path  # where it was found (usually the soname symlink)
    version: str  # from the real file's name (13.0.96), else the soname's major (13)
    origin: str  # LD_LIBRARY_PATH, nvidia-* wheel, CUDA_HOME, CUDA toolkit, ld.so.conf, default

    @property
    def major(self) -> str:
        """The soname's version: '13' for libcudart.so.13."""
        return self.soname.rsplit(".so.", 1)[1]


def nvidia_wheel_dirs(paths: Sequence[str] | None = None) -> tuple[Path, ...]:
    """``<site-packages>/nvidia/<component>/lib`` of the nvidia-* wheels on ``paths``
    (default ``sys.path``): not on the loader's path unless preloaded or added to
    LD_LIBRARY_PATH."""
    found: dict[Path, None] = {}
    for entry in sys.path if paths is None else paths:
        for lib in sorted(glob.glob(os.path.join(entry or ".", "nvidia", "*", "lib"))):
            found.setdefault(Path(lib).resolve(), None)
    return tuple(found)


def cuda_library_dirs(ld_library_path: str | None = None) -> tuple[tuple[str, Path], ...]:
    """Directories where CUDA libraries live, each with its origin label, in search order.

    ``ld_library_path`` replaces the environment's LD_LIBRARY_PATH (pass "" for unset).
    """
    labelled: list[tuple[str, str]] = [("LD_LIBRARY_PATH", d) for d in env_dirs(ld_library_path)]
    labelled += [("nvidia-* wheel", str(d)) for d in nvidia_wheel_dirs()]
    for var in ("CUDA_HOME", "CUDA_PATH"):
        if home := os.environ.get(var):
            labelled += [(var, os.path.join(home, sub)) for sub in ("lib64", "lib")]
    for pattern in ("/usr/local/cuda*/lib64", "/usr/local/cuda*/targets/*/lib"):
        labelled += [("CUDA toolkit", d) for d in sorted(glob.glob(pattern))]
    labelled += [("ld.so.conf", d) for d in conf_dirs()]
    labelled += [("default", d) for d in DEFAULT_DIRS]
    seen: dict[Path, str] = {}
    for origin, directory in labelled:
        path = Path(directory)
        if path.is_dir():
            seen.setdefault(path.resolve(), origin)
    return tuple((origin, path) for path, origin in seen.items())


def _wheel_version(path: Path) -> str | None:
    """The version of the nvidia-* wheel that installed ``path`` (<site>/nvidia/<x>/lib/<so>)."""
    import importlib.metadata

    parts = path.parts
    if len(parts) < 4 or parts[-4] != "nvidia" or parts[-2] != "lib":
        return None
    site = str(Path(*parts[:-4]))
    relative = "/".join(parts[-4:])
    for dist in importlib.metadata.distributions(path=[site]):
        if any(f.as_posix() == relative for f in dist.files or ()):
            return dist.version
    return None


def find_cuda_libraries(
    stem: str, dirs: Iterable[tuple[str, Path]] | None = None
) -> tuple[CudaLibrary, ...]:
    """Every versioned ``<stem>.<N>`` (e.g. stem 'libcudart.so') in ``dirs``
    (default: :func:`cuda_library_dirs`), one entry per distinct real file."""
    pattern = re.compile(re.escape(stem) + r"\.(\d+)$")
    found: list[CudaLibrary] = []
    real_files: set[Path] = set()
    for origin, directory in cuda_library_dirs() if dirs is None else dirs:
        for candidate in sorted(directory.glob(f"{stem}.*")):
            if not pattern.search(candidate.name) or not candidate.exists():
                continue
            real = candidate.resolve()
            if real in real_files:
                continue
            real_files.add(real)
            version = real.name.removeprefix(f"{stem}.") if real.name != candidate.name else ""
            major = pattern.search(candidate.name).group(1)  # type: ignore[union-attr]
            version = version or _wheel_version(candidate) or major
            found.append(CudaLibrary(candidate.name, candidate, version, origin))
    log.debug("%s: found %s", stem, [str(lib.path) for lib in found])
    return tuple(found)

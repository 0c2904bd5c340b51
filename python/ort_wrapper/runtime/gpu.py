"""The NVIDIA driver as this process sees it: libcuda.so.1, its version and device count."""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["DriverInfo", "nvidia_driver"]

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


def _loaded_path(name: str) -> str | None:
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                if name in line and "/" in line:
                    return line[line.index("/") :].strip()
    except OSError:
        pass
    return None


@lru_cache(maxsize=1)
def nvidia_driver() -> DriverInfo:
    """Load libcuda.so.1 and report its version and device count (cached per process)."""
    try:
        lib = ctypes.CDLL("libcuda.so.1")
    except OSError as exc:
        return DriverInfo(False, error=f"libcuda.so.1 cannot be loaded ({exc})")
    path = _loaded_path("libcuda.so")
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

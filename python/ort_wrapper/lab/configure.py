"""The CMake command line of a lab build: the variant's flags plus the native adjustments."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

__all__ = ["NATIVE_FLAGS", "SHIMS", "cmake_argv", "cmake_configure_argv", "shim_flags"]

SHIMS = Path(__file__).with_name("shims")

# What makes ORT use the chroot's -dev packages instead of downloads. Without
# CMP0170=NEW, a dependency that is neither found nor downloadable is skipped with only a
# warning; with it, each one is a hard error.
NATIVE_FLAGS: Mapping[str, str | bool] = {
    "CMAKE_BUILD_TYPE": "Release",
    "FETCHCONTENT_FULLY_DISCONNECTED": True,
    "FETCHCONTENT_TRY_FIND_PACKAGE_MODE": "ALWAYS",
    "CMAKE_POLICY_DEFAULT_CMP0170": "NEW",
    "safeint_SOURCE_DIR": "/usr/include/safeint",
    # trixie's shared libonnx is built against full protobuf (not -lite), so ORT must be too
    "onnxruntime_USE_FULL_PROTOBUF": True,
    "CMAKE_C_COMPILER_LAUNCHER": "ccache",
    "CMAKE_CXX_COMPILER_LAUNCHER": "ccache",
}


def shim_flags(shims_inside: str) -> dict[str, str]:
    """``<Package>_DIR`` for each CMake package config under ``shims/`` (one folder each)."""
    return {
        f"{d.name}_DIR": f"{shims_inside}/{d.name}" for d in sorted(SHIMS.iterdir()) if d.is_dir()
    }


def _value(value: str | bool) -> str:
    return ("ON" if value else "OFF") if isinstance(value, bool) else value


def cmake_argv(source: str, build: str, settings: Mapping[str, str | bool]) -> list[str]:
    """``cmake -G Ninja`` configuring ``build`` from ``source`` with ``settings``."""
    return ["cmake", "-G", "Ninja", "-S", source, "-B", build,
            *(f"-D{key}={_value(value)}" for key, value in settings.items())]  # fmt: skip


def cmake_configure_argv(
    source: str, build: str, install: str, shims: str, flags: Mapping[str, str | bool]
) -> list[str]:
    """ORT's CMake line: the variant's ``flags``, the native flags and the shims."""
    settings = {**flags, **NATIVE_FLAGS, **shim_flags(shims), "CMAKE_INSTALL_PREFIX": install}
    return cmake_argv(f"{source}/cmake", build, settings)

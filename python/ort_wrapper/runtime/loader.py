"""``init()``: load one ONNX Runtime into this process, once, safely from any thread.

Idempotent (every later call returns the same RuntimeInfo), thread-safe (one lock around the
first load) and retryable (a failure raises InitError and leaves sys.path and sys.modules as they
were, so the next call tries again).

Two backends: a distribution with an ``onnxruntime`` Python module is run through it (pybind);
any other (a shared C library, a static distribution linked with its own flags) through the C
API with ctypes. A process holds one ONNX Runtime: the C library is loaded RTLD_LOCAL, and
``init()`` refuses to add a second runtime of either kind.
"""

from __future__ import annotations

import enum
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from ..errors import InitError, LinkError, OrtWrapperError
from .distribution import Distribution, DistributionKind, locate
from .procmaps import loaded_libraries

__all__ = ["Backend", "RuntimeInfo", "active_runtime", "init", "onnxruntime_module"]

_lock = threading.Lock()
_info: RuntimeInfo | None = None
_runtime: Any = None  # the onnxruntime module, or the CapiRuntime
_NATIVE_MODULE = "onnxruntime_pybind11_state"
_ORT_LIB_PREFIXES = ("libonnxruntime", _NATIVE_MODULE)


class Backend(enum.StrEnum):
    """How sessions reach ONNX Runtime."""

    PYBIND = "pybind"  # the distribution's onnxruntime Python module
    CAPI = "capi"  # its C library through the C API (ctypes)


@dataclass(frozen=True)
class RuntimeInfo:
    """The loaded runtime: its version, where it came from, what it offers, which backend."""

    version: str
    distribution: Distribution
    available_providers: tuple[str, ...]  # compiled in (not necessarily usable)
    library_paths: tuple[Path, ...]  # ONNX Runtime's shared objects mapped in this process
    backend: Backend = Backend.PYBIND
    library: Path | None = None  # the C library the C API backend drives


def _ort_libraries() -> tuple[Path, ...]:
    return tuple(p for p in loaded_libraries() if p.name.startswith(_ORT_LIB_PREFIXES))


def _within(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root.resolve())


def _preload(dist: Distribution) -> None:
    if not dist.preload:
        return
    from ..elf.order import dependency_order
    from .untrusted import Role, load_library

    for path in dependency_order(dist.preload):
        try:
            load_library(path, dist.path, Role.DEPENDENCY, global_=True)
        except InitError as exc:
            raise InitError(f"{dist.describe()}: {exc}") from None


def _forget_modules(before: set[str]) -> None:
    for name in [n for n in sys.modules if n not in before]:
        if name == "onnxruntime" or name.startswith("onnxruntime."):
            del sys.modules[name]


def _check_module(module: ModuleType, dist: Distribution, python_path: Path) -> None:
    where = Path(module.__file__ or "").parent
    if not _within(where, python_path):
        raise InitError(f"importing onnxruntime gave {where}, expected it under {python_path}")
    version = getattr(module, "__version__", "unknown")
    if dist.version is not None and version != dist.version:
        raise InitError(
            f"{dist.describe()} declares ONNX Runtime {dist.version}, "
            f"but its module reports {version}"
        )


def _refuse_foreign_native(dist: Distribution, python_path: Path) -> None:
    """A native onnxruntime module already mapped from elsewhere (say by an earlier init() that
    failed after importing it: a shared object cannot be unloaded) means a second runtime."""
    for lib in _ort_libraries():
        if lib.name.startswith(_NATIVE_MODULE) and not _within(lib, python_path):
            raise InitError(
                f"ONNX Runtime's native module is already loaded in this process from {lib} "
                "(for instance by an earlier init() that failed after importing it; a loaded "
                f"library cannot be unloaded), so {dist.describe()} cannot be loaded too (two "
                "ONNX Runtimes in one process): use a new process"
            )


def _import(dist: Distribution) -> ModuleType:
    """Import the distribution's ``onnxruntime`` and check it; on any failure undo the import
    (sys.path and sys.modules as they were), so the next init() starts clean."""
    python_path = dist.python_path
    assert python_path is not None  # locate() rejects distributions without a module
    existing = sys.modules.get("onnxruntime")
    if existing is not None:
        where = Path(existing.__file__ or "").parent
        if not _within(where, python_path):
            raise InitError(
                f"onnxruntime is already imported from {where}; cannot also load "
                f"{dist.describe()} in this process (two ONNX Runtimes in one process). "
                "Call ort_wrapper.init() before anything imports onnxruntime, or use a new process."
            )
        return existing
    _refuse_foreign_native(dist, python_path)
    before = set(sys.modules)
    added = str(python_path) not in sys.path
    if added:
        sys.path.insert(0, str(python_path))
    from .untrusted import import_onnxruntime

    try:
        # an installed module's distribution is its environment (the nvidia-* wheels beside it)
        root = python_path if dist.kind is DistributionKind.MODULE else dist.path
        module = import_onnxruntime(python_path, root)
        _check_module(module, dist, python_path)
        return module
    except Exception as exc:  # importing runs the module's code: anything is an InitError
        _forget_modules(before)
        if added:
            sys.path.remove(str(python_path))
        if isinstance(exc, InitError):
            raise
        raise InitError(f"cannot import onnxruntime from {dist.describe()}: {exc}") from exc


def _capi_library(dist: Distribution) -> Path | None:
    """The shared library to load (None: this program itself, a Python linked with a static
    distribution's archives); a static one is linked with its flags first."""
    if dist.kind is DistributionKind.STATIC:
        from .capi.static import link_static, linked_into_this_process

        if linked_into_this_process():
            return None
        assert dist.manifest is not None
        try:
            return link_static(dist.path, dist.manifest)
        except LinkError as exc:
            raise InitError(
                f"{exc}. It cannot be loaded into this Python; a Python interpreter linked with "
                "its archives can run it (`ort-wrapper check --dist` builds and uses one: "
                "ort_wrapper.runtime.capi.static.static_interpreter)"
            ) from None
    core = dist.core_library()
    if core is None:
        raise InitError(
            f"{dist.describe()} has neither an onnxruntime Python module nor a "
            "libonnxruntime.so* to run through the C API"
        )
    return core


def _load_capi(dist: Distribution) -> tuple[Any, Path | None]:
    """The C API backend over ``dist``'s library (a static one: linked with its flags)."""
    existing = sys.modules.get("onnxruntime")
    if existing is not None:
        raise InitError(
            f"onnxruntime is already imported from {Path(existing.__file__ or '').parent}; "
            f"cannot also load {dist.describe()} in this process (two ONNX Runtimes in one "
            "process). Call ort_wrapper.init() before anything imports onnxruntime, or use a "
            "new process."
        )
    from .capi.runtime import CapiRuntime

    try:
        library = _capi_library(dist)
        inside = library is None or library.absolute().is_relative_to(dist.path)
        # a static one: linked by us into the cache, its RUNPATH (if any) into the distribution
        root = dist.path if inside else (library.parent, dist.path)
        return CapiRuntime(library, dist.header(), root), library
    except OrtWrapperError as exc:
        raise InitError(f"cannot load {dist.describe()} through the C API: {exc}") from None


def _load(dist: Distribution) -> tuple[RuntimeInfo, Any]:
    _preload(dist)
    if dist.python_path is None:
        runtime, library = _load_capi(dist)
        backend = Backend.CAPI
    else:
        runtime, library, backend = _import(dist), None, Backend.PYBIND
    info = RuntimeInfo(
        version=runtime.__version__,
        distribution=dist,
        available_providers=tuple(runtime.get_available_providers()),
        library_paths=_ort_libraries(),
        backend=backend,
        library=library,
    )
    return info, runtime


def _names(dist: Distribution) -> set[Path]:
    """The directories that name ``dist``: its root; a module's also the folder holding it."""
    root = dist.path.resolve()
    return {root, root.parent} if dist.kind is DistributionKind.MODULE else {root}


def init(distribution: str | os.PathLike[str] | None = None) -> RuntimeInfo:
    """Load ONNX Runtime once and describe it (see the module docstring).

    ``distribution``: a prefix holding ``share/ort-wrapper/manifest.json``, an onnxruntime
    package (or the directory holding one), or any directory holding ``libonnxruntime.so*``
    (run through the C API); default
    ``ORT_WRAPPER_DIST``, then ``ORT_LIB_LOCATION``, then a carried bundle, then the installed
    ``onnxruntime`` module. Asking for a different distribution after one is loaded raises
    InitError: a process holds one ONNX Runtime.
    """
    global _info, _runtime
    info = _info
    if info is not None and distribution is None:
        return info
    with _lock:
        if _info is not None:
            if distribution is None:
                return _info
            wanted = Path(distribution).expanduser().absolute().resolve()
            if wanted not in _names(_info.distribution):
                raise InitError(
                    f"ONNX Runtime is already loaded from {_info.distribution.describe()}; "
                    f"a process holds one runtime: load {wanted} in a new process"
                )
            return _info
        _info, _runtime = _load(locate(distribution))
        return _info


def active_runtime() -> Any:
    """What sessions are made with (initialising if needed): the ``onnxruntime`` module, or the
    C API backend (``CapiRuntime``), which answers to the same names."""
    init()
    return _runtime


def onnxruntime_module() -> ModuleType:
    """The ``onnxruntime`` module of the initialised runtime (initialising if needed); InitError
    when the runtime is driven through the C API (its distribution has no Python module)."""
    info = init()
    if info.backend is Backend.CAPI:
        raise InitError(
            f"{info.distribution.describe()} has no onnxruntime Python module: it runs through "
            "the C API (use SessionBuilder/infer; ort_wrapper.ort is only the pybind module)"
        )
    return sys.modules["onnxruntime"]

"""ctypes over one ``libonnxruntime.so*``: the ``OrtApi`` function table, typed calls, and every
``OrtStatus`` turned into :class:`~ort_wrapper.errors.OrtApiError` with ORT's code and message.

Slots come from the header table (``ortapi.json``, or the distribution's own header); the
signatures of the functions this backend calls are declared once in ``_SIGNATURES``.
"""

from __future__ import annotations

import ctypes
import json
import logging
import re
import sys
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import InitError, OrtApiError
from .header import ApiTable, parse_header

if TYPE_CHECKING:
    from ..untrusted import Roots

__all__ = ["MIN_API", "OrtLibrary", "committed_table", "open_library", "release_api", "table_for"]

log = logging.getLogger(__name__)

MIN_API = 16  # the oldest OrtApi this backend drives
_TABLE = Path(__file__).with_name("ortapi.json")
_RELEASE = re.compile(r"^1\.(\d+)\.\d+")

p = ctypes.c_void_p
pp = ctypes.POINTER(ctypes.c_void_p)
sz = ctypes.c_size_t
psz = ctypes.POINTER(ctypes.c_size_t)
i32 = ctypes.c_int
pi32 = ctypes.POINTER(ctypes.c_int)
s = ctypes.c_char_p
ps = ctypes.POINTER(ctypes.c_char_p)
pi64 = ctypes.POINTER(ctypes.c_int64)
# name -> (restype, argtypes); a restype of p on an ORT_API2_STATUS function is the OrtStatus*.
_SIGNATURES: dict[str, tuple[Any, tuple[Any, ...]]] = {
    "GetErrorCode": (i32, (p,)),
    "GetErrorMessage": (s, (p,)),
    "CreateEnv": (p, (i32, s, pp)),
    "UpdateEnvWithCustomLogLevel": (p, (p, i32)),
    "CreateSessionOptions": (p, (pp,)),
    "SetSessionLogSeverityLevel": (p, (p, i32)),
    "SetIntraOpNumThreads": (p, (p, i32)),
    "SetInterOpNumThreads": (p, (p, i32)),
    "SetSessionGraphOptimizationLevel": (p, (p, i32)),
    "SetDeterministicCompute": (p, (p, ctypes.c_bool)),
    "SetOptimizedModelFilePath": (p, (p, s)),
    "SessionOptionsAppendExecutionProvider": (p, (p, s, ps, ps, sz)),
    "CreateCUDAProviderOptions": (p, (pp,)),
    "UpdateCUDAProviderOptions": (p, (p, ps, ps, sz)),
    "SessionOptionsAppendExecutionProvider_CUDA_V2": (p, (p, p)),
    "CreateTensorRTProviderOptions": (p, (pp,)),
    "UpdateTensorRTProviderOptions": (p, (p, ps, ps, sz)),
    "SessionOptionsAppendExecutionProvider_TensorRT_V2": (p, (p, p)),
    "CreateDnnlProviderOptions": (p, (pp,)),
    "UpdateDnnlProviderOptions": (p, (p, ps, ps, sz)),
    "SessionOptionsAppendExecutionProvider_Dnnl": (p, (p, p)),
    "GetAvailableProviders": (p, (ctypes.POINTER(ps), pi32)),
    "ReleaseAvailableProviders": (p, (ps, i32)),
    "CreateSession": (p, (p, s, p, pp)),
    "CreateSessionFromArray": (p, (p, p, sz, p, pp)),
    "SessionGetInputCount": (p, (p, psz)),
    "SessionGetOutputCount": (p, (p, psz)),
    "SessionGetOverridableInitializerCount": (p, (p, psz)),
    "SessionGetInputName": (p, (p, sz, p, pp)),
    "SessionGetOutputName": (p, (p, sz, p, pp)),
    "SessionGetOverridableInitializerName": (p, (p, sz, p, pp)),
    "SessionGetInputTypeInfo": (p, (p, sz, pp)),
    "SessionGetOutputTypeInfo": (p, (p, sz, pp)),
    "SessionGetOverridableInitializerTypeInfo": (p, (p, sz, pp)),
    "GetAllocatorWithDefaultOptions": (p, (pp,)),
    "AllocatorFree": (p, (p, p)),
    "GetOnnxTypeFromTypeInfo": (p, (p, pi32)),
    "CastTypeInfoToTensorInfo": (p, (p, pp)),
    "CastTypeInfoToSequenceTypeInfo": (p, (p, pp)),
    "CastTypeInfoToMapTypeInfo": (p, (p, pp)),
    "CastTypeInfoToOptionalTypeInfo": (p, (p, pp)),
    "GetSequenceElementType": (p, (p, pp)),
    "GetMapKeyType": (p, (p, pi32)),
    "GetMapValueType": (p, (p, pp)),
    "GetOptionalContainedTypeInfo": (p, (p, pp)),
    "GetTensorElementType": (p, (p, pi32)),
    "GetDimensionsCount": (p, (p, psz)),
    "GetDimensions": (p, (p, pi64, sz)),
    "GetSymbolicDimensions": (p, (p, ps, sz)),
    "CreateCpuMemoryInfo": (p, (i32, i32, pp)),
    "CreateTensorWithDataAsOrtValue": (p, (p, p, sz, pi64, sz, i32, pp)),
    "CreateTensorAsOrtValue": (p, (p, pi64, sz, i32, pp)),
    "FillStringTensor": (p, (p, ps, sz)),
    "GetResizedStringTensorElementBuffer": (p, (p, sz, sz, pp)),
    "CreateValue": (p, (pp, sz, i32, pp)),
    "Run": (p, (p, p, ps, pp, sz, ps, sz, pp)),
    "CreateRunOptions": (p, (pp,)),
    "RunOptionsSetRunLogSeverityLevel": (p, (p, i32)),
    "GetValueType": (p, (p, pi32)),
    "GetTensorTypeAndShape": (p, (p, pp)),
    "GetTensorMutableData": (p, (p, pp)),
    "GetTensorShapeElementCount": (p, (p, psz)),
    "GetStringTensorDataLength": (p, (p, psz)),
    "GetStringTensorContent": (p, (p, p, sz, psz, sz)),
    "GetValueCount": (p, (p, psz)),
    "GetValue": (p, (p, i32, p, pp)),
    "HasValue": (p, (p, pi32)),
    "ReleaseStatus": (None, (p,)),
    "ReleaseEnv": (None, (p,)),
    "ReleaseSessionOptions": (None, (p,)),
    "ReleaseRunOptions": (None, (p,)),
    "ReleaseSession": (None, (p,)),
    "ReleaseValue": (None, (p,)),
    "ReleaseTypeInfo": (None, (p,)),
    "ReleaseTensorTypeAndShapeInfo": (None, (p,)),
    "ReleaseMemoryInfo": (None, (p,)),
    "ReleaseCUDAProviderOptions": (None, (p,)),
    "ReleaseTensorRTProviderOptions": (None, (p,)),
    "ReleaseDnnlProviderOptions": (None, (p,)),
}


class _ApiBase(ctypes.Structure):
    _fields_ = [
        ("GetApi", ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_uint32)),
        ("GetVersionString", ctypes.CFUNCTYPE(ctypes.c_char_p)),
    ]


def release_api(version: str) -> int | None:
    """The C API version of a release ('1.23.2' -> 23); None when ``version`` is not one."""
    match = _RELEASE.match(version)
    return int(match.group(1)) if match else None


def committed_table() -> ApiTable:
    """The table generated from ORT's header and committed as ``ortapi.json``."""
    data = json.loads(_TABLE.read_text())
    return ApiTable(int(data["apiVersion"]), tuple(data["functions"]))


def table_for(header: Path | None) -> ApiTable:
    """The distribution's own header when it ships one (and it covers at least the committed
    table's API), else the committed table."""
    committed = committed_table()
    if header is None or not header.is_file():
        return committed
    try:
        own = parse_header(header)
    except InitError as exc:
        log.warning("using the committed OrtApi table: %s", exc)
        return committed
    return own if own.api_version >= committed.api_version else committed


def open_library(path: Path | None, root: Roots | None = None) -> tuple[ctypes.CDLL, Any, str]:
    """Load ``path`` of the distribution at ``root`` (vetted first; RTLD_LOCAL; None: this
    program, when it is linked with ONNX Runtime) and return it, its ``OrtApiBase*`` and
    ``GetVersionString()``; InitError when it is not ONNX Runtime."""
    from ..untrusted import Role, load_library, this_program

    what = str(path) if path is not None else "this program"
    cdll = this_program() if path is None else load_library(path, root or path.parent, Role.CORE)
    try:
        get_base = cdll.OrtGetApiBase
    except AttributeError:
        raise InitError(f"{what} is not ONNX Runtime: it does not export OrtGetApiBase") from None
    get_base.restype = ctypes.POINTER(_ApiBase)
    base = get_base()
    if not base:
        raise InitError(f"{what}: OrtGetApiBase() returned NULL")
    raw = base.contents.GetVersionString()
    return cdll, base, (raw.decode(errors="replace") if raw else "")


class OrtLibrary:
    """One loaded ONNX Runtime and its ``OrtApi``: ``call(name, *args)`` raises OrtApiError for
    a non-NULL OrtStatus; ``fn(name)`` is the raw function (for release calls and the run path)."""

    def __init__(self, path: Path | None, table: ApiTable, root: Roots | None = None) -> None:
        self.path = path if path is not None else Path(sys.executable)  # a linked-in runtime
        self._cdll, base, self.version = open_library(path, root)
        release = release_api(self.version)
        if release is None:
            raise InitError(
                f"{self.path}: GetVersionString() returned {self.version!r}, not an ONNX Runtime "
                "release version"
            )
        self.api_version = min(release, table.api_version)
        if self.api_version < MIN_API:
            raise InitError(
                f"{self.path} is ONNX Runtime {self.version} (C API {self.api_version}); the C API "
                f"backend needs API {MIN_API} or newer (ONNX Runtime 1.{MIN_API})"
            )
        api = base.contents.GetApi(self.api_version)
        if not api:
            raise InitError(
                f"{self.path} (ONNX Runtime {self.version}) returned NULL for GetApi"
                f"({self.api_version}): it does not offer that C API version"
            )
        self._table = table
        self._slots = ctypes.cast(api, ctypes.POINTER(ctypes.c_void_p))
        self._fns: dict[str, Any] = {}

    def fn(self, name: str) -> Any:
        """The function in ``name``'s slot, typed by ``_SIGNATURES``."""
        found = self._fns.get(name)
        if found is None:
            restype, argtypes = _SIGNATURES[name]
            address = self._slots[self._table.index(name)]
            if not address:
                raise OrtApiError(f"{self.path}: OrtApi.{name} is NULL", "ORT_NOT_IMPLEMENTED")
            found = ctypes.CFUNCTYPE(restype, *argtypes)(address)
            self._fns[name] = found
        return found

    def untyped(self, name: str, nargs: int) -> Any:
        """``name``'s function with every argument and the result a plain address (int), for
        the run path, where ctypes' argument conversion is the cost."""
        return ctypes.CFUNCTYPE(p, *(p,) * nargs)(self._slots[self._table.index(name)])

    def check(self, status: int | None) -> None:
        """Raise OrtApiError for a non-NULL ``OrtStatus*`` (and release it)."""
        if status:
            code = self.fn("GetErrorCode")(status)
            message = (self.fn("GetErrorMessage")(status) or b"").decode(errors="replace")
            self.fn("ReleaseStatus")(status)
            raise OrtApiError.from_status(code, message)

    def call(self, name: str, *args: Any) -> None:
        """Call an ``ORT_API2_STATUS`` function; OrtApiError on failure."""
        self.check(self.fn(name)(*args))

    def out(self, name: str, *args: Any) -> int:
        """Call a function whose last argument is an ``OrtX**`` and return the pointer."""
        value = ctypes.c_void_p()
        self.call(name, *args, ctypes.byref(value))
        return value.value or 0

    @cached_property
    def allocator(self) -> int:
        """ORT's default CPU allocator (owned by ORT, never released)."""
        return self.out("GetAllocatorWithDefaultOptions")

    @cached_property
    def cpu_memory(self) -> int:
        """An OrtMemoryInfo for CPU memory, kept for the library's lifetime."""
        return self.out("CreateCpuMemoryInfo", 0, 0)  # OrtDeviceAllocator, OrtMemTypeDefault

    def take_string(self, pointer: int) -> str:
        """A ``char*`` ORT allocated with the default allocator, copied and freed."""
        try:
            return (ctypes.string_at(pointer) if pointer else b"").decode(errors="replace")
        finally:
            if pointer:
                self.call("AllocatorFree", self.allocator, pointer)

    def available_providers(self) -> tuple[str, ...]:
        """``GetAvailableProviders()``: the providers compiled in."""
        names = ps()
        count = ctypes.c_int()
        self.call("GetAvailableProviders", ctypes.byref(names), ctypes.byref(count))
        try:
            return tuple(names[i].decode() for i in range(count.value))
        finally:
            self.call("ReleaseAvailableProviders", names, count)

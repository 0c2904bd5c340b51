"""The C API backend: the calls ``SessionBuilder`` and ``Session`` make, over one
``libonnxruntime.so*`` loaded with ctypes.

It answers to the names the ``onnxruntime`` module uses for the same things
(``SessionOptions``, ``GraphOptimizationLevel``, ``InferenceSession``, ``get_providers``...), so
the wrapper has one session path on both backends. A session reports the providers ORT really
registered: a provider whose append call fails is not used, and ORT's message says why.
"""

from __future__ import annotations

import ctypes
import enum
import os
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import OrtApiError
from ..catalog import CPU_PROVIDER as _CPU
from ..catalog import GenericAppend, provider_spec
from .api import OrtLibrary, table_for
from .runpath import Runner
from .values import TypedFeed, describe_type

if TYPE_CHECKING:
    from ..untrusted import Roots

__all__ = ["CapiRuntime", "GraphOptimizationLevel", "NodeArg", "SessionOptions"]

_LOG_WARNING = 2


class GraphOptimizationLevel(enum.IntEnum):
    """ORT's ``GraphOptimizationLevel`` values."""

    ORT_DISABLE_ALL = 0
    ORT_ENABLE_BASIC = 1
    ORT_ENABLE_EXTENDED = 2
    ORT_ENABLE_ALL = 99


@dataclass(slots=True)  # slots: an option this backend does not know is an AttributeError
class SessionOptions:
    """What SessionBuilder sets; turned into an ``OrtSessionOptions`` per session."""

    log_severity_level: int = -1  # as the pybind module's: the process's level (the env's)
    intra_op_num_threads: int = 0
    inter_op_num_threads: int = 0
    graph_optimization_level: GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL
    use_deterministic_compute: bool = False
    optimized_model_filepath: str = ""


@dataclass(frozen=True)
class NodeArg:
    """An input or output as the pybind module describes it."""

    name: str
    type: str
    shape: tuple[Any, ...]
    element_type: int | None


def _pairs(options: Mapping[str, Any]) -> tuple[Any, Any, int]:
    keys = [str(k).encode() for k in options]
    values = [str(v).encode() for v in options.values()]
    n = len(keys)
    return (ctypes.c_char_p * n)(*keys), (ctypes.c_char_p * n)(*values), n


class CapiRuntime:
    """One ONNX Runtime shared library driven through its C API (one OrtEnv per process)."""

    __version__: str

    SessionOptions = SessionOptions
    GraphOptimizationLevel = GraphOptimizationLevel

    def __init__(
        self, library: Path | None, header: Path | None = None, root: Roots | None = None
    ) -> None:
        self.lib = OrtLibrary(library, table_for(header), root)
        self.__version__ = self.lib.version
        self.env = self.lib.out("CreateEnv", _LOG_WARNING, b"ort-wrapper")
        self._providers = self.lib.available_providers()

    def get_available_providers(self) -> list[str]:
        """The providers compiled in."""
        return list(self._providers)

    def set_default_logger_severity(self, level: int) -> None:
        """ORT's log level for this process (0 verbose ... 4 fatal)."""
        self.lib.call("UpdateEnvWithCustomLogLevel", self.env, int(level))

    def typed_feed(self, array: Any, element_type: int) -> TypedFeed:
        """``array``'s bytes fed as the ONNX element type ``element_type``."""
        return TypedFeed(array, element_type)

    def InferenceSession(
        self,
        source: str | bytes,
        options: SessionOptions,
        providers: Sequence[str] = (),
        provider_options: Sequence[Mapping[str, Any]] = (),
    ) -> CapiSession:
        """A session on ``source`` (a path or the model's bytes)."""
        return CapiSession(self, source, options, providers, provider_options)

    def session_options(self, options: SessionOptions) -> int:
        """A new ``OrtSessionOptions*`` (the caller releases it)."""
        lib = self.lib
        handle = lib.out("CreateSessionOptions")
        try:
            if options.log_severity_level >= 0:
                lib.call("SetSessionLogSeverityLevel", handle, options.log_severity_level)
            lib.call("SetIntraOpNumThreads", handle, options.intra_op_num_threads)
            lib.call("SetInterOpNumThreads", handle, options.inter_op_num_threads)
            lib.call(
                "SetSessionGraphOptimizationLevel", handle, int(options.graph_optimization_level)
            )
            if options.use_deterministic_compute:
                lib.call("SetDeterministicCompute", handle, True)
            if options.optimized_model_filepath:
                path = os.fsencode(options.optimized_model_filepath)
                lib.call("SetOptimizedModelFilePath", handle, path)
        except BaseException:
            lib.fn("ReleaseSessionOptions")(handle)
            raise
        return handle

    def append_provider(self, handle: int, name: str, options: Mapping[str, Any]) -> None:
        """Register ``name`` on the session options the way its spec says (the generic call, or
        the provider's own options calls); OrtApiError with ORT's message when it cannot."""
        spec = provider_spec(name)
        how = spec.capi if spec is not None else None
        lib = self.lib
        if how is None:
            raise OrtApiError(
                f"the C API backend has no way to append {name} (no 'capi' entry in "
                "data/providers.json)",
                "ORT_NOT_IMPLEMENTED",
            )
        if isinstance(how, GenericAppend):
            lib.call(
                "SessionOptionsAppendExecutionProvider", handle, how.name.encode(), *_pairs(options)
            )
            return
        made = lib.out(how.create)
        try:
            lib.call(how.update, made, *_pairs(options))
            lib.call(how.append, handle, made)
        finally:
            lib.fn(how.release)(made)


class CapiSession:
    """A session: ``get_inputs``/``get_outputs``/``get_overridable_initializers``,
    ``get_providers`` and ``run(output_names, feeds, run_options)`` as the pybind module's."""

    def __init__(
        self,
        runtime: CapiRuntime,
        source: str | bytes,
        options: SessionOptions,
        providers: Sequence[str],
        provider_options: Sequence[Mapping[str, Any]],
    ) -> None:
        lib = self.lib = runtime.lib
        self.provider_errors: dict[str, str] = {}
        wanted = [
            (name, provider_options[i] if i < len(provider_options) else {})
            for i, name in enumerate(providers)
            if name != _CPU
        ]
        try:
            self._handle, used = self._create(runtime, source, options, wanted)
        except OrtApiError as exc:
            if not wanted or len(self.provider_errors) == len(wanted):
                raise
            # As the pybind module does: a provider that fails the session's creation is
            # dropped (its reason kept) and the session is made on the CPU.
            for name, _ in wanted:
                self.provider_errors.setdefault(name, f"creating the session failed: {exc}")
            self._handle, used = self._create(runtime, source, options, [])
        weakref.finalize(self, lib.fn("ReleaseSession"), self._handle)
        self._providers = [*used, _CPU]
        self._inputs = self._args("Input")
        self._outputs = self._args("Output")
        self._overridable = self._args("OverridableInitializer")
        self._runner = Runner(lib, self._handle, (*self._inputs, *self._overridable), self._outputs)

    def _create(
        self,
        runtime: CapiRuntime,
        source: str | bytes,
        options: SessionOptions,
        wanted: Sequence[tuple[str, Mapping[str, Any]]],
    ) -> tuple[int, list[str]]:
        lib, used = self.lib, []
        handle = runtime.session_options(options)
        try:
            for name, extra in wanted:
                try:
                    runtime.append_provider(handle, name, extra)
                    used.append(name)
                except OrtApiError as exc:
                    self.provider_errors[name] = str(exc).strip()
            if isinstance(source, bytes):
                session = lib.out(
                    "CreateSessionFromArray", runtime.env, source, len(source), handle
                )
            else:
                session = lib.out("CreateSession", runtime.env, os.fsencode(source), handle)
        finally:
            lib.fn("ReleaseSessionOptions")(handle)
        return session, used

    def _args(self, what: str) -> list[NodeArg]:
        lib, count = self.lib, ctypes.c_size_t()
        lib.call(f"SessionGet{what}Count", self._handle, ctypes.byref(count))
        args = []
        for i in range(count.value):
            name = lib.take_string(lib.out(f"SessionGet{what}Name", self._handle, i, lib.allocator))
            info = lib.out(f"SessionGet{what}TypeInfo", self._handle, i)
            try:
                kind, element, shape = describe_type(lib, info)
            finally:
                lib.fn("ReleaseTypeInfo")(info)
            args.append(NodeArg(name, kind, shape, element))
        return args

    def get_inputs(self) -> list[NodeArg]:
        return list(self._inputs)

    def get_outputs(self) -> list[NodeArg]:
        return list(self._outputs)

    def get_overridable_initializers(self) -> list[NodeArg]:
        return list(self._overridable)

    def get_providers(self) -> list[str]:
        return list(self._providers)

    def run(
        self, output_names: Sequence[str], feeds: Mapping[str, Any], run_options: Any = None
    ) -> list[Any]:
        """Run and return every output as Python data (see ``runpath``)."""
        return self._runner.run(output_names, feeds)

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

import numpy as np

from ...errors import InputError, OrtApiError
from ..catalog import CPU_PROVIDER as _CPU
from ..catalog import GenericAppend, provider_spec
from .api import OrtLibrary, table_for
from .values import Converter, TypedFeed, describe_type

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

    log_severity_level: int = _LOG_WARNING
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
        args = (*self._inputs, *self._overridable)
        self._names = {a.name: (a.name.encode(), a.type) for a in args}
        self._convert = Converter(lib)
        self._c_run = lib.untyped("Run", 8)
        self._release_value = lib.fn("ReleaseValue")
        self._named: dict[tuple[str, ...], tuple[Any, list[str]]] = {}  # see _input_names
        self._outputs_cache: tuple[list[str], Any, list[str], Any, Any, Any] | None = None
        self._static_ok = True  # until ORT rejects a declared output shape
        self._shapes: dict[tuple[Any, ...], Any] = {}  # feeds' names and shapes -> outputs

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
        """Run and return every output as Python data (all OrtValues are released)."""
        return self._run(output_names, feeds, guess=True)

    def _run(self, output_names: Sequence[str], feeds: Mapping[str, Any], guess: bool) -> list[Any]:
        """The run (see ``run``).

        Numeric tensor outputs whose shapes are known (declared static, or what the same input
        shapes gave last time) are handed to ORT as numpy arrays to fill, which saves querying
        each output; ORT refuses a wrong guess (shape mismatch), and the run is redone the
        ordinary way, copying each output out of ORT's memory."""
        keep: list[Any] = []  # buffers the OrtValues borrow, alive until Run returns
        n_in, n_out = len(feeds), len(output_names)
        slots = (ctypes.c_void_p * (n_in + n_out))()  # the inputs' OrtValues, then the outputs'
        names, kinds = self._input_names(tuple(feeds))
        out_names, out_kinds, dtypes, codes, static = self._output_arrays(output_names)
        convert = self._convert
        try:
            for i, name in enumerate(feeds):
                convert.feed(slots, i, name, feeds[name], keep, kinds[i])
            key = filled = None
            if dtypes is not None:
                key, filled = self._guess(feeds, slots, dtypes, codes, static if guess else False)
            first = ctypes.addressof(slots)
            status = self._c_run(
                self._handle, None, ctypes.addressof(names), first, n_in,
                ctypes.addressof(out_names), n_out, first + n_in * convert.slot,
            )  # fmt: skip
            if status and filled is not None:  # a wrong shape guess, or a real error
                self.lib.fn("ReleaseStatus")(status)
                return self._run_unguessed(output_names, feeds, key, static is not None)
            if status:
                self.lib.check(status)
            if filled is not None:
                return filled
            got = [
                convert.fetch(slots[n_in + i], output_names[i], out_kinds[i]) for i in range(n_out)
            ]
            if key is not None and self._shapes.get(key) is not False:
                self._remember(key, [a.shape for a in got])
            return got
        finally:
            release = self._release_value
            for value in slots:
                if value:
                    release(value)

    def _guess(
        self, feeds: Mapping[str, Any], slots: Any, dtypes: Any, codes: Any, static: Any
    ) -> tuple[Any, list[Any] | None]:
        """The key of the inputs' names and shapes (for output shapes learnt from them), and the
        output arrays handed to ORT in ``slots`` when their shapes are known: declared
        (``static``), or learnt; ``static`` False: no guess."""
        key = None
        if not static:  # only learnt shapes are keyed by the inputs'
            key = (*feeds, *(getattr(f, "shape", None) for f in feeds.values()))
        shapes = static if static is not None else self._shapes.get(key)
        if not shapes:
            return key, None
        filled = [np.empty(s, d) for s, d in zip(shapes, dtypes, strict=True)]
        for i, array in enumerate(filled):
            self._convert.tensor(slots, len(feeds) + i, array, codes[i])
        return key, filled

    def _input_names(self, names: tuple[str, ...]) -> tuple[Any, list[str]]:
        """The ``char*[]`` of these input names and their declared types, made once per order
        of names (read-only once made, so threads share them)."""
        found = self._named.get(names)
        if found is None:
            try:
                known = [self._names[name] for name in names]
            except KeyError as exc:
                raise InputError(f"unknown input {exc.args[0]!r}") from None
            encoded = (ctypes.c_char_p * len(known))(*(k[0] for k in known))
            found = (encoded, [k[1] for k in known])
            if len(self._named) >= 64:
                self._named.clear()
            self._named[names] = found
        return found

    def _remember(self, key: tuple[Any, ...], shapes: list[tuple[int, ...]] | bool) -> None:
        if len(self._shapes) >= 64:
            self._shapes.clear()
        self._shapes[key] = shapes

    def _run_unguessed(
        self, output_names: Sequence[str], feeds: Mapping[str, Any], key: Any, declared: bool
    ) -> list[Any]:
        """Redo a run whose output shapes were guessed; when it then succeeds the guess was
        wrong: stop guessing (the declared shapes for the session, learnt ones for these
        input shapes). When it fails too, the error is the run's own."""
        outputs = self._run(output_names, feeds, guess=False)
        if declared:
            self._static_ok = False
            self._outputs_cache = None
        else:
            self._remember(key, False)
        return outputs

    def _output_arrays(self, output_names: Sequence[str]) -> tuple[Any, list[str], Any, Any, Any]:
        """The encoded names, the declared types, the numpy dtypes and element types when every
        output is a numeric tensor (else None), and their shapes when all are declared static
        (else None); cached for the last list asked for."""
        cached = self._outputs_cache
        if cached is not None and cached[0] == output_names:
            return cached[1:]
        args = {a.name: a for a in self._outputs}
        try:
            chosen = [args[n] for n in output_names]
        except KeyError as exc:
            raise InputError(f"the model has no output {exc.args[0]!r}") from None
        encoded = (ctypes.c_char_p * len(chosen))(*(a.name.encode() for a in chosen))
        dtypes = [self._convert.declared.get(a.type) for a in chosen]
        numeric = all(d is not None for d in dtypes)
        static = [a.shape for a in chosen if all(type(d) is int and d >= 0 for d in a.shape)]
        self._outputs_cache = (
            list(output_names),
            encoded,
            [a.type for a in chosen],
            dtypes if numeric else None,
            [a.element_type for a in chosen] if numeric else None,
            static if numeric and self._static_ok and len(static) == len(chosen) else None,
        )
        return self._outputs_cache[1:]

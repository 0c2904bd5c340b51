"""SessionBuilder and Session: a thin, honest layer over onnxruntime.InferenceSession.

Honest providers: a Session reports what ONNX Runtime actually uses; every requested provider
that is not in use is in ``Session.fallbacks`` with the reason (missing sonames, no device,
not compiled in). ``strict=True`` and ``require_gpu()`` raise ProviderUnavailableError instead.
The run path calls ORT's binding directly and validates only on the way out of an error, so it
costs no more than the raw API.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError, ModelLoadError, OrtApiError, ProviderUnavailableError
from .catalog import CPU_PROVIDER as _CPU
from .catalog import gpu_providers, provider_specs, resolve_provider_name
from .diagnose import provider_status
from .elements import plain_dtype
from .feeds import native_feeds
from .loader import RuntimeInfo, active_runtime, init
from .modelcheck import check_external_data

__all__ = ["LOG_LEVELS", "Fallback", "Session", "SessionBuilder", "TensorInfo"]

log = logging.getLogger("ort_wrapper")

_OPT_LEVELS = {
    "disable": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC",
    "extended": "ORT_ENABLE_EXTENDED", "all": "ORT_ENABLE_ALL",
}  # fmt: skip
LOG_LEVELS = {"verbose": 0, "info": 1, "warning": 2, "error": 3, "fatal": 4}


@dataclass(frozen=True)
class TensorInfo:
    """One model input or output."""

    name: str
    type: str  # ONNX Runtime's spelling, e.g. "tensor(float)"
    dtype: Any  # numpy dtype (runtime.elements), or None: sequences, maps, bfloat16, float8...
    shape: tuple[int | str | None, ...]

    def describe(self) -> str:
        """'X: tensor(float) [batch, 3]'."""
        dims = ", ".join("?" if d is None else str(d) for d in self.shape)
        return f"{self.name}: {self.type} [{dims}]"


@dataclass(frozen=True)
class Fallback:
    """A requested provider that the session does not use, and why."""

    provider: str
    reason: str


def _tensor_info(arg: Any) -> TensorInfo:
    shape = tuple(arg.shape) if isinstance(arg.shape, list | tuple) else ()
    return TensorInfo(arg.name, arg.type, plain_dtype(arg.type), shape)


class Session:
    """A loaded model. ``run`` is safe to call from many threads at once."""

    def __init__(
        self, session: Any, label: str, requested: tuple[str, ...], fallbacks: tuple[Fallback, ...]
    ) -> None:
        self.ort_session = session
        self.label = label
        self.inputs = tuple(_tensor_info(a) for a in session.get_inputs())
        # Initializers the model lets a caller override: accepted as inputs, never required.
        self.optional_inputs = tuple(
            _tensor_info(a) for a in session.get_overridable_initializers()
        )
        self.outputs = tuple(_tensor_info(a) for a in session.get_outputs())
        self.providers: tuple[str, ...] = tuple(session.get_providers())
        self.requested_providers = requested
        self.fallbacks = fallbacks
        self._output_names = [o.name for o in self.outputs]
        self._one_output = self._output_names[0] if len(self.outputs) == 1 else None
        self._n_inputs = len(self.inputs)
        self._single = self.inputs[0].name if self._n_inputs == 1 else None
        binding = getattr(session, "_sess", None)
        self._run = binding.run if binding is not None else session.run
        if binding is not None and any(
            i.type == "tensor(string)" for i in (*self.inputs, *self.optional_inputs)
        ):  # decided once: models without string inputs pay nothing per run
            self._run = _whole_strings(self._run)

    def __repr__(self) -> str:
        return f"Session({self.label}, providers={list(self.providers)})"

    def run(self, feeds: Mapping[str, Any] | Any) -> dict[str, Any]:
        """Run the model; ``feeds`` maps input names to arrays (or is one array for a
        one-input model). Returns output name -> numpy array. InputError when the feeds do not
        fit the model; OrtApiError (ORT's ``code`` and message) when ONNX Runtime fails the run."""
        if type(feeds) is not dict:
            feeds = self._as_dict(feeds)
        elif len(feeds) != self._n_inputs:
            self._raise_problems(feeds)
        feeds = native_feeds(feeds)
        try:
            values = self._run(self._output_names, feeds, None)
        except InputError:  # the backend's own (a feed it cannot express): ours come first
            self._raise_problems(feeds)
            raise
        except Exception as exc:  # the binding's errors (Fail, ...) share no other base
            self._raise_problems(feeds)
            raise OrtApiError.wrapping(f"ONNX Runtime failed running {self.label}", exc) from None
        if self._one_output is not None:  # the common case, without dict(zip(...))'s cost
            return {self._one_output: values[0]}
        return dict(zip(self._output_names, values))  # noqa: B905 (one value per name, always)

    def _as_dict(self, feeds: Any) -> dict[str, Any]:
        if isinstance(feeds, Mapping):
            feeds = dict(feeds)
            if len(feeds) != self._n_inputs:
                self._raise_problems(feeds)
            return feeds
        if self._single is not None and hasattr(feeds, "dtype"):
            return {self._single: feeds}
        raise InputError(
            f"{self.label}: feeds must be a dict of input name -> array"
            f"{' (or one array: the model has one input)' if self._single else ''}, "
            f"got {type(feeds).__name__}. {self.signature()}"
        )

    def signature(self) -> str:
        """'Expected inputs: X: tensor(float) [2, 3], Y: ...' (and the optional ones)."""
        text = "Expected inputs: " + ", ".join(i.describe() for i in self.inputs)
        if self.optional_inputs:
            text += "; optional: " + ", ".join(i.describe() for i in self.optional_inputs)
        return text

    def _problems(self, feeds: Mapping[str, Any]) -> list[str]:
        problems = []
        required = {i.name: i for i in self.inputs}
        expected = {**required, **{i.name: i for i in self.optional_inputs}}
        unknown = [n for n in feeds if n not in expected]
        missing = [n for n in required if n not in feeds]
        if unknown:
            problems.append(f"unknown input(s) {', '.join(map(repr, unknown))}")
        if missing:
            problems.append(f"missing input(s) {', '.join(map(repr, missing))}")
        for name, value in feeds.items():
            info = expected.get(name)
            if info is not None and info.dtype is not None:
                problems.extend(_feed_problems(name, value, info))
        return problems

    def _raise_problems(self, feeds: Mapping[str, Any]) -> None:
        problems = self._problems(feeds)
        if problems:
            raise InputError(f"{self.label}: {'; '.join(problems)}. {self.signature()}")


def _whole_strings(run: Any) -> Any:
    """``run`` with fixed-width unicode feeds (numpy ``U``) passed as object arrays: the pybind
    module reads a ``U`` array's elements as C strings, cut at a NUL byte, and an object
    array's whole."""

    def run_whole(names: Any, feeds: dict[str, Any], options: Any) -> Any:
        whole = {
            n: v.astype(object) if getattr(v, "dtype", None) is not None and v.dtype.kind == "U"
            else v
            for n, v in feeds.items()
        }  # fmt: skip
        return run(names, whole, options)

    return run_whole


def _expected_dtype(info: TensorInfo) -> str:
    """'float32', or what a string input takes (its numpy dtype, object, says too little)."""
    if info.type == "tensor(string)":
        return "a string tensor (str values: np.array([...], dtype=object) or a list of str)"
    return str(info.dtype)


def _feed_problems(name: str, value: Any, info: TensorInfo) -> list[str]:
    """What is wrong with one feed against its declared input (dtype, rank, fixed sizes)."""
    import numpy as np

    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as exc:
        return [f"input {name!r} is not an array ({exc})"]
    if array.dtype != info.dtype and not (info.dtype == object and array.dtype.kind in "OUS"):
        return [f"input {name!r} has dtype {array.dtype}, expected {_expected_dtype(info)}"]
    if info.shape and array.ndim != len(info.shape):
        return [
            f"input {name!r} has rank {array.ndim} (shape {list(array.shape)}), "
            f"expected rank {len(info.shape)}"
        ]
    return [
        f"input {name!r} has size {got} on axis {axis}, expected {want}"
        for axis, (got, want) in enumerate(zip(array.shape, info.shape, strict=False))
        if isinstance(want, int) and want >= 0 and got != want
    ]


class SessionBuilder:
    """Fluent construction of a Session: every method returns the builder."""

    def __init__(self, model: Path | bytes, label: str) -> None:
        self._model = model
        self._label = label
        self._providers: list[tuple[str, dict[str, Any]]] = [(_CPU, {})]
        self._strict = False
        self._gpu: str | None = None  # None, "prefer" or "require"
        self._threads: int | None = None
        self._inter_threads: int | None = None
        self._opt_level: str | None = None
        self._save_optimized: Path | None = None
        self._deterministic = False
        self._log_level: int | None = None
        self._trust_external_data = False

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> SessionBuilder:
        """A model stored in a file (checked when the session is built)."""
        return cls(Path(path), str(path))

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> SessionBuilder:
        """A serialised model held in memory."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise ModelLoadError(f"from_bytes expects bytes, got {type(data).__name__}")
        data = bytes(data)
        return cls(data, f"<bytes: {len(data)}>")

    def with_providers(
        self, *providers: str | tuple[str, Mapping[str, Any]], strict: bool = False
    ) -> SessionBuilder:
        """Providers in preference order: names ('cuda', 'CUDAExecutionProvider') or
        (name, options) pairs. ``strict`` raises when any of them is not actually used."""
        resolved = []
        for item in providers:
            if isinstance(item, str):
                name, options = item, {}
            elif (
                isinstance(item, tuple)
                and len(item) == 2
                and isinstance(item[0], str)
                and isinstance(item[1], Mapping)
            ):
                name, options = item[0], dict(item[1])
            else:
                raise TypeError(
                    "with_providers() takes provider names or (name, options) pairs as separate "
                    f"arguments, got {item!r} (unpack a list with *providers)"
                )
            canonical = resolve_provider_name(name)
            if canonical is None:
                known = ", ".join(a for s in provider_specs().values() for a in s.aliases)
                raise ProviderUnavailableError(
                    f"unknown execution provider {name!r} (known: {known})"
                )
            resolved.append((canonical, options))
        if not resolved:
            raise ProviderUnavailableError("with_providers() needs at least one provider")
        self._providers, self._strict, self._gpu = resolved, strict, None
        return self

    def cpu_only(self) -> SessionBuilder:
        """Run on the CPU provider alone."""
        return self.with_providers(_CPU)

    def prefer_gpu(self) -> SessionBuilder:
        """The platform's GPU providers first, falling back to CPU with a recorded reason."""
        self._gpu, self._strict = "prefer", False
        return self

    def require_gpu(self) -> SessionBuilder:
        """Like prefer_gpu(), but raise ProviderUnavailableError when no GPU provider is used."""
        self._gpu, self._strict = "require", False
        return self

    def intra_op_threads(self, n: int) -> SessionBuilder:
        """Threads used inside one operator (0: ONNX Runtime's default)."""
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise InputError(f"intra_op_threads expects an integer >= 0, got {n!r}")
        self._threads = n
        return self

    def inter_op_threads(self, n: int) -> SessionBuilder:
        """Threads running independent operators in parallel (0: ONNX Runtime's default)."""
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise InputError(f"inter_op_threads expects an integer >= 0, got {n!r}")
        self._inter_threads = n
        return self

    def optimization_level(self, level: str) -> SessionBuilder:
        """Graph optimisation: 'disable', 'basic', 'extended' or 'all'."""
        if level not in _OPT_LEVELS:
            raise InputError(
                f"optimization_level expects one of {', '.join(_OPT_LEVELS)}, got {level!r}"
            )
        self._opt_level = level
        return self

    def save_optimized(self, path: str | os.PathLike[str]) -> SessionBuilder:
        """Have ONNX Runtime write the model as its graph optimisations leave it to ``path``
        (an ONNX file: the operators, fused ones included, that this runtime will run)."""
        self._save_optimized = Path(path)
        return self

    def deterministic(self, flag: bool = True) -> SessionBuilder:
        """Ask ONNX Runtime for deterministic kernels (use_deterministic_compute)."""
        self._deterministic = bool(flag)
        return self

    def log_level(self, level: str) -> SessionBuilder:
        """ONNX Runtime's log lines for this session from ``level`` up: 'verbose', 'info',
        'warning' (ORT's default), 'error' or 'fatal'."""
        if level not in LOG_LEVELS:
            raise InputError(f"log_level expects one of {', '.join(LOG_LEVELS)}, got {level!r}")
        self._log_level = LOG_LEVELS[level]
        return self

    def trust_external_data(self, flag: bool = True) -> SessionBuilder:
        """Let the model read external data from anywhere (by default, locations outside the
        model's directory are refused: an untrusted model could read any file)."""
        self._trust_external_data = bool(flag)
        return self

    def _options(self, ort: Any) -> Any:
        options = ort.SessionOptions()
        if self._log_level is not None:
            options.log_severity_level = self._log_level
        if self._threads is not None:
            options.intra_op_num_threads = self._threads
        if self._inter_threads is not None:
            options.inter_op_num_threads = self._inter_threads
        if self._opt_level is not None:
            options.graph_optimization_level = getattr(
                ort.GraphOptimizationLevel, _OPT_LEVELS[self._opt_level]
            )
        options.use_deterministic_compute = self._deterministic
        if self._save_optimized is not None:
            options.optimized_model_filepath = str(self._save_optimized)
        return options

    def _requested(self) -> list[tuple[str, dict[str, Any]]]:
        if self._gpu is None:
            return self._providers
        # Every GPU provider of the platform is requested, so one that is not compiled in is
        # a fallback with its reason, not silently left out.
        return [*((p, {}) for p in gpu_providers()), (_CPU, {})]

    @staticmethod
    def _reason(info: RuntimeInfo, provider: str, session: Any) -> str:
        status = provider_status(
            provider,
            available=info.available_providers,
            library_dirs=info.distribution.library_dirs,
        )
        said = getattr(session, "provider_errors", {}).get(provider)  # the C API's own message
        reason = status.reason() or (f"ONNX Runtime: {said}" if said else None)
        return reason or f"ONNX Runtime did not enable {provider} (see its log)"

    def _load(self, ort: Any, options: Any, providers: list[tuple[str, dict[str, Any]]]) -> Any:
        if isinstance(self._model, Path):
            path = self._model
            if not path.exists():
                raise ModelLoadError(f"{path}: no such file")
            if path.is_dir():
                raise ModelLoadError(f"{path} is a directory, expected an ONNX model file")
            # read by the one reader before ONNX Runtime opens it: a FIFO or device is refused
            check_external_data(path, self._label, trusted=self._trust_external_data)
            if path.stat().st_size == 0:
                raise ModelLoadError(f"{path} is empty (0 bytes), expected an ONNX model")
            source: str | bytes = str(path)
        else:
            if not self._model:
                raise ModelLoadError("<bytes: 0> is empty, expected an ONNX model")
            source = self._model
            check_external_data(source, self._label, trusted=self._trust_external_data)
        try:
            return ort.InferenceSession(
                source,
                options,
                providers=[p for p, _ in providers],
                provider_options=[o for _, o in providers],
            )
        except Exception as exc:  # the binding's errors (Fail, ...) share no other base
            raise ModelLoadError(f"cannot load {self._label}: {exc}") from None

    def build(self) -> Session:
        """Create the session; raises ModelLoadError or ProviderUnavailableError."""
        info = init()
        ort = active_runtime()
        requested = self._requested()
        usable = [(p, o) for p, o in requested if p in info.available_providers]
        session = self._load(ort, self._options(ort), usable or [(_CPU, {})])
        used = set(session.get_providers())
        fallbacks = tuple(
            Fallback(p, self._reason(info, p, session)) for p, _ in requested if p not in used
        )
        names = tuple(p for p, _ in requested)
        if fallbacks and self._strict:
            raise ProviderUnavailableError(
                f"{self._label}: requested provider(s) not in use: "
                + "; ".join(f"{f.provider}: {f.reason}" for f in fallbacks),
                fallbacks,
            )
        if self._gpu == "require" and not used.intersection(gpu_providers()):
            raise ProviderUnavailableError(
                f"{self._label}: no GPU provider in use: "
                + "; ".join(f"{f.provider}: {f.reason}" for f in fallbacks if f.provider != _CPU),
                fallbacks,
            )
        if fallbacks:
            log.warning(
                "%s runs on %s instead of %s: %s",
                self._label,
                ", ".join(sorted(used)),
                ", ".join(f.provider for f in fallbacks),
                "; ".join(f.reason for f in fallbacks),
            )
        return Session(session, self._label, names, fallbacks)

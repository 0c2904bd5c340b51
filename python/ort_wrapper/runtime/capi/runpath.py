"""The C API run path: feeds to OrtValues, one ``Run``, outputs back to Python; flat and cheap.

Each ctypes call costs a fraction of a microsecond, so a run makes as few as it can:
- an ``OutputPlan`` per list of output names, made once: the encoded names, a reader per output
  (``readers``), and the numpy types when every output is a numeric tensor;
- ``ShapeGuesses``: output shapes known before the run (declared static, or what the same input
  names and shapes gave last time) let ORT fill arrays allocated here, which saves querying each
  output. ORT refuses a wrong guess; the run is then redone with ORT allocating, and the guess
  forgotten. The guessed run logs at FATAL only, so a refused guess prints nothing;
- a ``ValueCache`` per thread: an OrtValue over caller memory describes nothing but an address,
  a shape and an element type, so a tensor at the same address with the same shape and type
  reuses it, which saves a create and a release per tensor. Each thread owns its values (no
  lock, and no thread can release a value another is running with); they are released when the
  cache passes its bound (at the start of a run, when none is in use) or with the thread or
  session.
"""

from __future__ import annotations

import ctypes
import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...errors import InputError
from ..elements import PACKED, STRING, numpy_dtype, plain_codes
from .api import OrtLibrary
from .readers import Calls, Reader, reader_for
from .values import address, to_value

__all__ = ["Runner"]

_FATAL = 4
_Key = tuple[Any, ...]


class _Values(dict[tuple[int, tuple[int, ...], int], int]):
    """One thread's cached OrtValues, released with it."""

    def __init__(self, release: Any) -> None:
        super().__init__()
        self.release = release

    def drop(self) -> None:
        for value in self.values():
            self.release(value)
        self.clear()

    def __del__(self) -> None:
        self.drop()


class ValueCache:
    """Tensor OrtValues over caller memory, per thread, keyed by what they describe."""

    LIMIT = 64

    def __init__(self, lib: OrtLibrary) -> None:
        self._local = threading.local()
        self._release = lib.untyped("ReleaseValue", 1)
        self._create = lib.untyped("CreateTensorWithDataAsOrtValue", 7)
        self._memory = lib.cpu_memory
        self._check = lib.check

    def mine(self) -> _Values:
        """This thread's values (emptied first when past the bound: none is in use)."""
        try:
            values = self._local.values
        except AttributeError:
            values = self._local.values = _Values(self._release)
        if len(values) > self.LIMIT:
            values.drop()
        return values

    def tensor(self, values: _Values, array: Any, code: int) -> int:
        """The OrtValue over ``array`` (C-contiguous, native, of ONNX element type ``code``)."""
        at = address(array)
        key = (at, array.shape, code)
        value = values.get(key)
        if value is None:
            shape = (ctypes.c_int64 * array.ndim)(*array.shape)
            out = ctypes.c_void_p()
            self._check(
                self._create(
                    self._memory, at, array.nbytes, ctypes.addressof(shape), array.ndim, code,
                    ctypes.addressof(out),
                )
            )  # fmt: skip
            value = values[key] = out.value
        return value


@dataclass(frozen=True)
class OutputPlan:
    """How one list of outputs is asked for and read."""

    names: list[str]
    encoded: Any  # char*[]
    readers: list[Reader]
    dtypes: list[Any] | None  # numpy dtypes when every output is a numeric tensor
    codes: list[int] | None  # their ONNX element types
    static: list[tuple[int, ...]] | None  # their shapes when all are declared fixed


class ShapeGuesses:
    """Output shapes known before a run: the declared ones while ORT accepts them, else those
    learnt per input names and shapes (a bounded table; a refused guess is never made again)."""

    LIMIT = 64

    def __init__(self) -> None:
        self._learnt: dict[_Key, list[tuple[int, ...]] | bool] = {}
        self._declared_ok = True

    def lookup(self, plan: OutputPlan, feeds: Mapping[str, Any]) -> tuple[_Key | None, Any]:
        """(the key learnt shapes are kept under, or None for declared ones; the shapes, or
        None when there is no guess)."""
        if plan.dtypes is None:
            return None, None
        if plan.static is not None and self._declared_ok:
            return None, plan.static
        key = (*feeds, *(getattr(f, "shape", None) for f in feeds.values()))
        return key, self._learnt.get(key) or None

    def learn(self, key: _Key | None, shapes: list[tuple[int, ...]]) -> None:
        if key is None or key in self._learnt:
            return
        if len(self._learnt) >= self.LIMIT:
            self._learnt.clear()
        self._learnt[key] = shapes

    def forget(self, key: _Key | None) -> None:
        """ORT refused the guess under ``key`` (None: the declared shapes)."""
        if key is None:
            self._declared_ok = False
        else:
            self._learnt[key] = False


class Runner:
    """One session's runs: ``run(output_names, feeds)`` as the pybind module's."""

    def __init__(self, lib: OrtLibrary, handle: int, inputs: Sequence[Any], outputs: Sequence[Any]):
        self.lib, self._handle = lib, handle
        self._calls = Calls(lib)
        self._inputs = {a.name: (a.name.encode(), a.type) for a in inputs}
        self._outputs = {a.name: a for a in outputs}
        self._named: dict[tuple[str, ...], tuple[Any, list[bool], list[str]]] = {}
        self._plan: OutputPlan | None = None
        self._guesses = ShapeGuesses()
        self._cache = ValueCache(lib)
        self._codes = plain_codes()
        self._ndarray = np.ndarray
        self._c_run = lib.untyped("Run", 8)
        self._release = lib.untyped("ReleaseValue", 1)
        self._release_status = lib.untyped("ReleaseStatus", 1)
        self._quiet = lib.out("CreateRunOptions")
        weakref.finalize(self, lib.fn("ReleaseRunOptions"), self._quiet)
        lib.call("RunOptionsSetRunLogSeverityLevel", self._quiet, _FATAL)

    LIMIT_NAMES = 64

    def run(self, output_names: Sequence[str], feeds: Mapping[str, Any]) -> list[Any]:
        """Every output as Python data; OrtValues made for this run only are released."""
        plan = self._plan_for(output_names)
        names, plain, kinds = self._input_names(tuple(feeds))
        n_in = len(feeds)
        slots = (ctypes.c_void_p * (n_in + len(plan.names)))()
        values, owned = self._cache.mine(), []
        keep: list[Any] = []  # buffers the OrtValues made here borrow, alive until Run returns
        try:
            self._fill(slots, feeds, plain, kinds, values, owned, keep)
            key, shapes = self._guesses.lookup(plan, feeds)
            if shapes is not None:
                filled = self._run_filled(slots, names, plan, shapes, values, n_in)
                if filled is not None:
                    return filled
                self._guesses.forget(key)
            return self._run_plain(slots, names, plan, key, n_in)
        finally:
            for value in owned:
                self._release(value)

    def _fill(
        self, slots: Any, feeds: Mapping[str, Any], plain: list[bool], kinds: list[str],
        values: _Values, owned: list[int], keep: list[Any],
    ) -> None:  # fmt: skip
        """The inputs' OrtValues into ``slots``: plain arrays from the cache, others made for
        this run (listed in ``owned``)."""
        for i, name in enumerate(feeds):
            feed = feeds[name]
            if plain[i] and type(feed) is self._ndarray and feed.flags.c_contiguous:
                code = self._codes.get(feed.dtype)  # non-native byte orders are not in the table
                if code is not None:
                    slots[i] = self._cache.tensor(values, feed, code)
                    continue
            slots[i] = to_value(self.lib, name, feed, keep, kinds[i])
            owned.append(slots[i])

    def _call(self, options: Any, slots: Any, names: Any, plan: OutputPlan, n_in: int) -> int:
        first = ctypes.addressof(slots)
        return self._c_run(
            self._handle, options, ctypes.addressof(names), first, n_in,
            ctypes.addressof(plan.encoded), len(plan.names), first + n_in * _SLOT,
        )  # fmt: skip

    def _run_filled(
        self, slots: Any, names: Any, plan: OutputPlan, shapes: Any, values: _Values, n_in: int
    ) -> list[Any] | None:
        """Run into arrays of the guessed shapes; None when ORT refuses them."""
        arrays = [np.empty(s, d) for s, d in zip(shapes, plan.dtypes or (), strict=True)]
        for i, array in enumerate(arrays):
            slots[n_in + i] = self._cache.tensor(values, array, (plan.codes or ())[i])
        status = self._call(self._quiet, slots, names, plan, n_in)
        if not status:
            return arrays
        self._release_status(status)
        for i in range(len(arrays)):
            slots[n_in + i] = None
        return None

    def _run_plain(
        self, slots: Any, names: Any, plan: OutputPlan, key: _Key | None, n_in: int
    ) -> list[Any]:
        """Run with ORT allocating the outputs, read and released here."""
        status = self._call(None, slots, names, plan, n_in)
        try:
            self.lib.check(status)
            got = [read(slots[n_in + i]) for i, read in enumerate(plan.readers)]
        finally:
            for i in range(len(plan.names)):
                if slots[n_in + i]:
                    self._release(slots[n_in + i])
        if plan.dtypes is not None:
            self._guesses.learn(key, [a.shape for a in got])
        return got

    def _input_names(self, names: tuple[str, ...]) -> tuple[Any, list[bool], list[str]]:
        """The ``char*[]`` of these input names, whether each is declared a tensor, and their
        declared types; made once per order of names (read-only once made: threads share)."""
        found = self._named.get(names)
        if found is None:
            try:
                known = [self._inputs[name] for name in names]
            except KeyError as exc:
                raise InputError(f"unknown input {exc.args[0]!r}") from None
            encoded = (ctypes.c_char_p * len(known))(*(k[0] for k in known))
            kinds = [k[1] for k in known]
            found = (encoded, [k.startswith("tensor(") for k in kinds], kinds)
            if len(self._named) >= self.LIMIT_NAMES:
                self._named.clear()
            self._named[names] = found
        return found

    def _plan_for(self, output_names: Sequence[str]) -> OutputPlan:
        plan = self._plan
        if plan is not None and plan.names == output_names:
            return plan
        try:
            chosen = [self._outputs[n] for n in output_names]
        except KeyError as exc:
            raise InputError(f"the model has no output {exc.args[0]!r}") from None
        plan = self._plan = _plan(self._calls, chosen)
        return plan


def _plan(calls: Calls, chosen: list[Any]) -> OutputPlan:
    codes = [a.element_type if a.type.startswith("tensor(") else None for a in chosen]
    numeric = all(
        c is not None and c != STRING and c not in PACKED and numpy_dtype(c) is not None
        for c in codes
    )  # tensors ORT can fill in place: not strings, not 4-bit (packed)
    static = [a.shape for a in chosen if all(type(d) is int and d >= 0 for d in a.shape)]
    return OutputPlan(
        names=[a.name for a in chosen],
        encoded=(ctypes.c_char_p * len(chosen))(*(a.name.encode() for a in chosen)),
        readers=[reader_for(calls, a.type, a.name) for a in chosen],
        dtypes=[numpy_dtype(c) for c in codes] if numeric else None,  # type: ignore[arg-type]
        codes=codes if numeric else None,  # type: ignore[arg-type]
        static=static if numeric and len(static) == len(chosen) else None,
    )


_SLOT = ctypes.sizeof(ctypes.c_void_p)

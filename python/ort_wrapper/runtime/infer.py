"""``infer()``: one-shot inference with a bounded LRU of sessions.

Sessions are keyed by the model and the options. A path model is keyed by the path and checked
on every call against the file's identity (inode, device, size, mtime, ctime), so an edited file
is reloaded; a bytes model is keyed by its content (Python hashes bytes once per object and
compares contents on a hash match), and the cache holds a reference to it.

A call takes the first of three paths that applies:
- a repeat of the last hit (the same model and providers objects, equal options) reuses what
  that hit found: no key is built or hashed, and the ``stat`` is the only work before the run;
- other hashable arguments are looked up in the LRU without a lock (CPython's OrderedDict
  lookups and moves are atomic);
- a miss, or arguments that need normalising, takes the lock and builds the session.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from operator import attrgetter
from pathlib import PurePath
from typing import Any

from ..errors import ModelLoadError
from .session import Session, SessionBuilder

__all__ = ["infer"]

CACHE_SIZE = 8
_Identity = tuple[int, int, int, int, int] | None
_cache: OrderedDict[Hashable, tuple[Session, _Identity]] = OrderedDict()
_lock = threading.Lock()
# The last lock-free hit: model, providers, options, session, the path to stat, its identity.
# A miss clears it, so the entry it names is always the LRU's most recent one.
_last: tuple[Any, Any, dict[str, Any], Session, Any, _Identity] | None = None
_MISSING = (-1, -1, -1, -1, -1)  # no file: the build step reports the precise error
# What tells one version of a file from another. ctime too: `cp -p`, `tar x` and `rsync -t`
# rewrite a file in place and restore its mtime.
_identity_of = attrgetter("st_ino", "st_dev", "st_size", "st_mtime_ns", "st_ctime_ns")


def _freeze(value: Any) -> Hashable:
    if isinstance(value, dict):
        return frozenset((k, _freeze(v)) for k, v in value.items())
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def _file_identity(path: Any) -> tuple[int, int, int, int, int]:
    """The identity of the file at ``path`` now: one ``stat``."""
    try:
        return _identity_of(os.stat(path))
    except OSError:
        return _MISSING


def _identity(model: Any) -> _Identity:
    return None if isinstance(model, bytes) else _file_identity(model)


def _normalise(model: Any, providers: Any, options: dict[str, Any]) -> tuple[Any, Hashable]:
    if isinstance(model, bytearray | memoryview):
        model = bytes(model)
    elif not isinstance(model, bytes | str | os.PathLike):
        raise ModelLoadError(
            f"infer() takes a model path, bytes or a Session, got {type(model).__name__}"
        )
    # The same shape as the hit path's key, so a hashable call finds this entry directly.
    return model, (
        model,
        _freeze(providers),
        frozenset((k, _freeze(v)) for k, v in options.items()) or None,
    )


_VALUE_OPTIONS = ("intra_op_threads", "optimization_level", "deterministic")
_FLAG_OPTIONS = ("cpu_only", "prefer_gpu", "require_gpu", "trust_external_data")


def _build(model: Any, providers: Sequence[Any] | None, options: dict[str, Any]) -> Session:
    builder = (
        SessionBuilder.from_bytes(model)
        if isinstance(model, bytes)
        else SessionBuilder.from_file(model)
    )
    strict = options.pop("strict", False)
    if providers is not None:
        builder.with_providers(*providers, strict=strict)
    elif strict:
        raise TypeError("infer(): strict=True needs providers=... (the providers to insist on)")
    for name, value in options.items():
        if name in _VALUE_OPTIONS:
            getattr(builder, name)(value)
        elif name in _FLAG_OPTIONS:
            if value:
                getattr(builder, name)()
        else:
            known = ", ".join(("strict", *_VALUE_OPTIONS, *_FLAG_OPTIONS))
            raise TypeError(f"infer() got an unknown option {name!r} (known: {known})")
    return builder.build()


def _miss(model: Any, inputs: Any, providers: Any, options: dict[str, Any]) -> dict[str, Any]:
    global _last
    model, key = _normalise(model, providers, options)
    if isinstance(providers, str):
        providers = (providers,)
    with _lock:
        entry = _cache.get(key)
        identity = _identity(model)
        if entry is None or entry[1] != identity:
            entry = (_build(model, providers, dict(options)), identity)
            _cache[key] = entry
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
        else:
            _cache.move_to_end(key)
        _last = None
    return entry[0].run(inputs)


def _lookup(model: Any, inputs: Any, providers: Any, options: dict[str, Any]) -> dict[str, Any]:
    """The LRU's lock-free hit path; remembers the hit for the next call."""
    global _last
    if isinstance(model, Session):
        return model.run(inputs)
    key = (model, providers, frozenset(options.items()) if options else None)
    try:
        session, identity = _cache[key]
        _cache.move_to_end(key)
    except (KeyError, TypeError):  # a miss, or an argument that needs normalising
        return _miss(model, inputs, providers, options)
    path = os.fspath(model) if isinstance(model, PurePath) else model  # immutable: stat the str
    if identity is not None and _file_identity(path) != identity:
        return _miss(model, inputs, providers, options)
    _last = (model, providers, options, session, path, identity)
    return session.run(inputs)


def infer(
    model: Any, inputs: Any, providers: str | Sequence[Any] | None = None, **options: Any
) -> dict[str, Any]:
    """Run ``model`` (path, bytes or Session) on ``inputs`` and return its outputs.

    ``providers`` as for SessionBuilder.with_providers (``strict=True`` applies to them);
    other ``options``: ``intra_op_threads``, ``optimization_level``, ``deterministic`` (values)
    and ``cpu_only``, ``prefer_gpu``, ``require_gpu``, ``trust_external_data`` (flags).
    Hashable arguments (a str or Path, bytes, a str or tuple of provider names, scalar options)
    take the lock-free hit path, and a repeat of the last hit skips even its key; others are
    normalised first.
    """
    last = _last
    if last is not None and model is last[0] and providers is last[1] and options == last[2]:
        identity = last[5]
        if identity is None:
            return last[3].run(inputs)
        try:  # _file_identity, inlined: this is the hot path
            if _identity_of(os.stat(last[4])) == identity:
                return last[3].run(inputs)
        except OSError:
            pass  # gone: the lookup below rebuilds, and reports what is wrong
    return _lookup(model, inputs, providers, options)


def cache_clear() -> None:
    """Drop every cached session."""
    global _last
    with _lock:
        _cache.clear()
        _last = None


def cache_info() -> dict[str, int]:
    """Current size and bound of the session cache."""
    return {"size": len(_cache), "max": CACHE_SIZE}


infer.cache_clear = cache_clear  # type: ignore[attr-defined]
infer.cache_info = cache_info  # type: ignore[attr-defined]

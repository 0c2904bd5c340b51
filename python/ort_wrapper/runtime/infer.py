"""``infer()``: one-shot inference with a bounded LRU of sessions.

Sessions are keyed by the model and the options. A path model is keyed by the path and checked
on every call against the file's identity (inode, device, size, mtime), so an edited file is
reloaded; a bytes model is keyed by its content (Python hashes bytes once per object and compares
contents on a hash match), and the cache holds a reference to it. The hit path takes no lock:
CPython's OrderedDict lookups and moves are atomic, and only misses (which build a session)
lock, so a loop of ``infer`` calls costs one dict lookup and one ``stat`` on top of the run.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from typing import Any

from ..errors import ModelLoadError
from .session import Session, SessionBuilder

__all__ = ["infer"]

CACHE_SIZE = 8
_Identity = tuple[int, int, int, int, int] | None
_cache: OrderedDict[Hashable, tuple[Session, _Identity]] = OrderedDict()
_lock = threading.Lock()


def _freeze(value: Any) -> Hashable:
    if isinstance(value, dict):
        return frozenset((k, _freeze(v)) for k, v in value.items())
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def _identity(model: Any) -> _Identity:
    if isinstance(model, bytes):
        return None
    try:
        st = os.stat(model)
    except OSError:
        return (-1, -1, -1, -1, -1)  # the build step reports the precise error
    # ctime too: `cp -p`, `tar x` and `rsync -t` rewrite a file in place and restore its mtime.
    return (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


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
    return entry[0].run(inputs)


def infer(
    model: Any, inputs: Any, providers: str | Sequence[Any] | None = None, **options: Any
) -> dict[str, Any]:
    """Run ``model`` (path, bytes or Session) on ``inputs`` and return its outputs.

    ``providers`` as for SessionBuilder.with_providers (``strict=True`` applies to them);
    other ``options``: ``intra_op_threads``, ``optimization_level``, ``deterministic`` (values)
    and ``cpu_only``, ``prefer_gpu``, ``require_gpu``, ``trust_external_data`` (flags).
    Hashable arguments (a str or Path, bytes, a str or tuple of provider names, scalar options)
    take the lock-free hit path; others are normalised first.
    """
    if isinstance(model, Session):
        return model.run(inputs)
    key = (model, providers, frozenset(options.items()) if options else None)
    try:
        session, identity = _cache[key]
        _cache.move_to_end(key)
    except (KeyError, TypeError):  # a miss, or an argument that needs normalising
        return _miss(model, inputs, providers, options)
    if identity is not None:  # a path: one stat, inlined (this is the hot path)
        try:
            st = os.stat(model)
        except OSError:
            return _miss(model, inputs, providers, options)
        if (
            st.st_ctime_ns != identity[4]
            or st.st_mtime_ns != identity[3]
            or st.st_ino != identity[0]
            or (st.st_size != identity[2] or st.st_dev != identity[1])
        ):
            return _miss(model, inputs, providers, options)
    return session.run(inputs)


def cache_clear() -> None:
    """Drop every cached session."""
    with _lock:
        _cache.clear()


def cache_info() -> dict[str, int]:
    """Current size and bound of the session cache."""
    return {"size": len(_cache), "max": CACHE_SIZE}


infer.cache_clear = cache_clear  # type: ignore[attr-defined]
infer.cache_info = cache_info  # type: ignore[attr-defined]

"""``infer()``: one-shot inference with a bounded LRU of sessions.

Sessions are keyed by model identity (path + size + mtime + inode, or a hash of the bytes) and
the options, so a loop of ``infer`` calls builds each session once.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from typing import Any

from ..errors import ModelLoadError
from .session import Session, SessionBuilder

__all__ = ["infer"]

CACHE_SIZE = 8
_cache: OrderedDict[Hashable, Session] = OrderedDict()
_lock = threading.Lock()


def _freeze(value: Any) -> Hashable:
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def _model_key(model: Any) -> Hashable:
    if isinstance(model, bytes | bytearray | memoryview):
        return ("bytes", len(model), hashlib.blake2b(model, digest_size=16).digest())
    if isinstance(model, str | os.PathLike):
        path = os.path.abspath(model)
        try:
            st = os.stat(path)
        except OSError:
            return ("path", path)  # the build step reports the precise error
        return ("path", path, st.st_size, st.st_mtime_ns, st.st_ino)
    raise ModelLoadError(
        f"infer() takes a model path, bytes or a Session, got {type(model).__name__}"
    )


def _build(model: Any, providers: Sequence[Any] | None, options: dict[str, Any]) -> Session:
    builder = (
        SessionBuilder.from_bytes(model)
        if isinstance(model, bytes | bytearray | memoryview)
        else SessionBuilder.from_file(model)
    )
    if providers is not None:
        builder.with_providers(*providers, strict=options.pop("strict", False))
    for name, value in options.items():
        method = getattr(builder, name, None)
        if name.startswith("_") or name in ("build", "from_file", "from_bytes") or method is None:
            raise TypeError(f"infer() got an unknown option {name!r}")
        method(value)
    return builder.build()


def infer(
    model: Any, inputs: Any, providers: str | Sequence[Any] | None = None, **options: Any
) -> dict[str, Any]:
    """Run ``model`` (path, bytes or Session) on ``inputs`` and return its outputs.

    ``providers`` as for SessionBuilder.with_providers; ``options`` name builder methods:
    ``strict``, ``intra_op_threads``, ``optimization_level``, ``deterministic``.
    """
    if isinstance(model, Session):
        return model.run(inputs)
    if isinstance(providers, str):
        providers = (providers,)
    key = (_model_key(model), _freeze(providers), _freeze(options))
    with _lock:
        session = _cache.get(key)
        if session is not None:
            _cache.move_to_end(key)
    if session is None:
        session = _build(model, providers, dict(options))
        with _lock:
            _cache[key] = session
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
    return session.run(inputs)


def cache_clear() -> None:
    """Drop every cached session."""
    with _lock:
        _cache.clear()


def cache_info() -> dict[str, int]:
    """Current size and bound of the session cache."""
    with _lock:
        return {"size": len(_cache), "max": CACHE_SIZE}


infer.cache_clear = cache_clear  # type: ignore[attr-defined]
infer.cache_info = cache_info  # type: ignore[attr-defined]

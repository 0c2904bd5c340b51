"""Feeds ONNX Runtime would misread, made right or refused before they reach it.

ONNX Runtime's Python binding reads an array's buffer as if it were native-endian and reads a
bytes (``S``) array as one run of characters: a big-endian ``>f4`` 1.0 arrives as 4.6e-41,
``[b"hello", b"world"]`` as ``['helloworld', 'world']``, and a ``bytes`` element of an object
array or list as its ``repr`` (``"b'hello'"``). So a non-native array is converted to native
byte order, and bytes strings are decoded as UTF-8 (InputError naming the input when they are
not UTF-8). Native numeric arrays, the common case, pass through at the cost of one check.
"""

from __future__ import annotations

from typing import Any

from ..errors import InputError

__all__ = ["native_feeds", "normalise_feed"]


_PLAIN: frozenset[Any] = frozenset()  # native numeric dtypes: filled on the first slow call


def native_feeds(feeds: dict[str, Any]) -> dict[str, Any]:
    """``feeds`` itself when every value is a native-endian numeric or bool array (one set
    lookup each); otherwise a copy with each value passed through :func:`normalise_feed`."""
    try:
        for value in feeds.values():
            if value.dtype not in _PLAIN:
                return _normalised(feeds)
    except (AttributeError, TypeError):  # not an array (a list, a scalar), or an odd dtype
        return _normalised(feeds)
    return feeds


def _normalised(feeds: dict[str, Any]) -> dict[str, Any]:
    global _PLAIN
    if not _PLAIN:
        import numpy as np

        _PLAIN = frozenset(np.dtype(c) for c in "?bBhHiIlLqQefdgFDG")
    return {name: normalise_feed(name, v) for name, v in feeds.items()}


def _decoded(name: str, items: Any) -> list[Any]:
    try:
        return [x.decode("utf-8") if isinstance(x, bytes | bytearray) else x for x in items]
    except UnicodeDecodeError as exc:
        raise InputError(
            f"input {name!r} holds bytes that are not UTF-8 ({exc.reason} at byte {exc.start}); "
            "ONNX Runtime strings are UTF-8: decode them or pass str"
        ) from None


def normalise_feed(name: str, value: Any) -> Any:
    """``value`` as ONNX Runtime reads it right: native byte order, bytes strings decoded.
    Anything else (a list of numbers, a scalar, a native array) is returned unchanged."""
    import numpy as np

    if isinstance(value, list | tuple):
        array = np.asarray(value, dtype=object) if value else None
        if array is None or not any(isinstance(x, bytes | bytearray) for x in array.flat):
            return value
        value = array
    if not isinstance(value, np.ndarray):
        return value
    if value.dtype.kind == "S":
        return np.array(_decoded(name, value.ravel().tolist()), dtype=object).reshape(value.shape)
    if value.dtype.kind == "O":
        if not any(isinstance(x, bytes | bytearray) for x in value.flat):
            return value
        return np.array(_decoded(name, value.flat), dtype=object).reshape(value.shape)
    if not value.dtype.isnative:
        return value.astype(value.dtype.newbyteorder("="))
    return value

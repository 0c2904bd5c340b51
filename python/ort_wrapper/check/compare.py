"""Outputs of every kind compared structurally: tensors (numeric, bool, string), sequences, maps
and optionals, as ONNX Runtime's Python binding returns them (arrays, lists, dicts, None).

``same_outputs`` is bitwise for floats (a NaN equals only the same NaN); ``max_abs_diff`` measures
numeric drift; ``compare_reference`` judges outputs against reference ones within tolerances
(onnx's backend-test defaults unless given) and names the largest differences. Integer, bool and
string outputs are compared exactly: a tolerance means nothing for them.

Strings compare as text whichever side produced bytes (``as_text``): onnx's ``numpy_helper``
reads a map's string keys back as bytes and a ``.npy`` may hold ``S`` or ``U`` strings, while
ONNX Runtime returns ``str``. Every comparison here goes through that one normalisation.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DEFAULT_ATOL",
    "DEFAULT_RTOL",
    "OutputDifference",
    "as_text",
    "compare_reference",
    "float_leaves",
    "leaves",
    "max_abs_diff",
    "same_outputs",
    "same_value",
]

# onnx's backend test runner: rtol 1e-3, atol 1e-7 unless a case's data.json says otherwise.
DEFAULT_RTOL = 1e-3
DEFAULT_ATOL = 1e-7


def _is_array(value: Any) -> bool:
    return hasattr(value, "dtype") and hasattr(value, "shape")


def _text(x: Any) -> Any:
    """A str for a str or bytes scalar (bytes as UTF-8; bytes that are not UTF-8 stay bytes), the
    value itself otherwise."""
    if isinstance(x, bytes):  # numpy.bytes_ too
        try:
            return x.decode("utf-8")
        except UnicodeDecodeError:
            return bytes(x)
    return str(x) if isinstance(x, str) else x  # numpy.str_ as str


def _text_array(a: Any) -> Any:
    """A string tensor (``U``, ``S``, or objects that are str or bytes) as an object array of str;
    any other array as it is."""
    import numpy as np

    if a.dtype.kind not in "USO" or (
        a.dtype.kind == "O" and not any(isinstance(x, str | bytes) for x in a.flat)
    ):
        return a
    text = np.empty(a.shape, dtype=object)
    text.flat[:] = [_text(x) for x in a.flat] if a.size else []
    return text


def as_text(value: Any) -> Any:
    """A nested output with every string as str: map keys, scalars and string tensors, whichever
    side produced bytes. Numbers and their types are left as they are."""
    if _is_array(value):
        return _text_array(value)
    if isinstance(value, Mapping):
        return {_text(k): as_text(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_text(v) for v in value]
    return _text(value)


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for key in sorted(value, key=repr):
            yield from _walk(value[key], f"{path}{{{key!r}}}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _walk(item, f"{path}[{i}]")
    else:
        yield path, value


def leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(path, leaf) pairs of a nested output (strings as text): ``[2]`` for a sequence element,
    ``{k}`` for a map value; leaves are arrays, Python scalars, strings or None (an empty
    optional)."""
    return _walk(as_text(value), path)


def _bits(x: Any) -> Any:
    """A comparable form of a scalar: floats by their bits."""
    if isinstance(x, float):
        import struct

        return ("f", struct.pack("<d", x))
    return (type(x).__name__, x)


def _same_array(a: Any, b: Any) -> bool:
    if not (_is_array(a) and _is_array(b)) or a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind == "O":
        return [_bits(x) for x in a.ravel().tolist()] == [_bits(x) for x in b.ravel().tolist()]
    return a.tobytes() == b.tobytes()


def _same_mapping(a: Any, b: Any) -> bool:
    return (
        isinstance(a, Mapping)
        and isinstance(b, Mapping)
        and set(a) == set(b)
        and all(_same(a[k], b[k]) for k in a)
    )


def _same_sequence(a: Any, b: Any) -> bool:
    return (
        isinstance(a, list | tuple)
        and isinstance(b, list | tuple)
        and len(a) == len(b)
        and all(_same(x, y) for x, y in zip(a, b, strict=True))
    )


def _same(a: Any, b: Any) -> bool:
    if _is_array(a) or _is_array(b):
        return _same_array(a, b)
    if isinstance(a, Mapping) or isinstance(b, Mapping):
        return _same_mapping(a, b)
    if isinstance(a, list | tuple) or isinstance(b, list | tuple):
        return _same_sequence(a, b)
    return _bits(a) == _bits(b)


def same_value(a: Any, b: Any) -> bool:
    """True when two outputs have the same structure, types, shapes and bits (strings as text:
    ``b'cat'`` is ``'cat'``, a ``U`` string tensor equals the same strings as objects)."""
    return _same(as_text(a), as_text(b))


def same_outputs(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """True when two output dicts hold the same names and bitwise-identical values."""
    return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)


def _numeric(value: Any) -> Any:
    """A float64 array of a numeric leaf (array or Python number), else None."""
    import numpy as np

    if _is_array(value):
        return value.astype(np.float64) if value.dtype.kind in "fiub" else None
    if isinstance(value, bool | int | float):
        return np.asarray(value, np.float64)
    return None


def float_leaves(outputs: Mapping[str, Any]) -> dict[str, Any]:
    """Every numeric leaf of every output, by '<output><path>', as a float64 array."""
    found = {}
    for name, value in outputs.items():
        for path, leaf in leaves(value):
            number = _numeric(leaf)
            if number is not None:
                found[f"{name}{path}"] = number
    return found


def max_abs_diff(a: Mapping[str, Any], b: Mapping[str, Any]) -> float:
    """The largest absolute difference between numeric leaves present, with the same shape, in
    both (NaNs ignored)."""
    import numpy as np

    ours, theirs = float_leaves(a), float_leaves(b)
    worst = 0.0
    for key, x in ours.items():
        y = theirs.get(key)
        if y is not None and x.shape == y.shape and x.size:
            diff = np.abs(x - y)
            if not np.isnan(diff).all():
                worst = max(worst, float(np.nanmax(diff)))
    return worst


@dataclass(frozen=True)
class OutputDifference:
    """One output against its reference: the worst element and how many are out of tolerance."""

    output: str
    ok: bool
    max_abs: float = 0.0
    max_rel: float = 0.0
    where: str = ""  # the leaf and index of the largest absolute difference
    mismatched: int = 0
    total: int = 0
    problem: str = ""  # a structural difference (missing output, shape, type)

    def describe(self) -> str:
        """'y: 3 of 512 out of tolerance, max |diff| 2e-3 at y[0, 7]' or the problem."""
        if self.problem:
            return f"{self.output}: {self.problem}"
        return (
            f"{self.output}: {self.mismatched} of {self.total} out of tolerance, "
            f"max |diff| {self.max_abs:.3g} (rel {self.max_rel:.3g}) at {self.where or '-'}"
        )


def _is_exact(value: Any) -> bool:
    """An integer or bool leaf: equal or not, never within a tolerance."""
    if _is_array(value):
        return value.dtype.kind in "iub"
    import numpy as np

    return isinstance(value, int | np.integer | np.bool_)


def _exact_difference(name: str, exp: Any, got: Any) -> OutputDifference:
    """An integer or bool leaf against its reference, element by element as Python numbers
    (exact: int64 1001 is not 1000, 2**53 + 1 is not 2**53, whatever the tolerances)."""
    import numpy as np

    x, y = np.asarray(got).astype(object), np.asarray(exp).astype(object)
    if x.shape != y.shape:
        return OutputDifference(name, False, problem=f"shape {list(x.shape)}, expected "
                                f"{list(y.shape)}")  # fmt: skip
    if np.asarray(exp).dtype.kind not in "iubf":
        return OutputDifference(name, False, problem=f"values differ (a {np.asarray(exp).dtype} "
                                f"reference for an integer output)")  # fmt: skip
    bad = np.asarray(x != y, dtype=bool)
    diff = np.array([abs(a - b) for a, b in zip(x.flat, y.flat, strict=True)], np.float64)
    diff = np.where(np.isnan(diff), np.inf, diff).reshape(x.shape)
    worst = np.unravel_index(int(np.argmax(diff)), diff.shape) if diff.ndim and diff.size else ()
    where = f"{name}[{', '.join(map(str, worst))}]" if worst else name
    return OutputDifference(
        name,
        not bad.any(),
        float(diff.max(initial=0.0)),
        where=where if bad.any() else "",
        mismatched=int(bad.sum()),
        total=int(x.size),
    )


def _shown(value: Any) -> str:
    """A value's repr, cut to 60 characters (a model's strings may be long)."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _unequal(exp: Any, got: Any) -> str:
    """'values differ' with the first differing element of two same-shaped arrays, or the two
    scalars: "values differ at [2]: 'setosa', expected 'virginica'"."""
    import numpy as np

    exp, got = as_text(exp), as_text(got)
    if _is_array(exp) and _is_array(got) and exp.shape == got.shape and exp.dtype == got.dtype:
        for index, (x, y) in enumerate(zip(got.flat, exp.flat, strict=True)):
            if _bits(x) != _bits(y):
                at = ", ".join(str(int(i)) for i in np.unravel_index(index, got.shape))
                where = f" at [{at}]" if at else ""
                return f"values differ{where}: {_shown(x)}, expected {_shown(y)}"
    if not (_is_array(exp) or _is_array(got)):
        return f"values differ: {_shown(got)}, expected {_shown(exp)}"
    return "values differ"


def _leaf_difference(name: str, exp: Any, got: Any, rtol: float, atol: float) -> OutputDifference:
    """Integer and bool leaves exactly; numeric leaves against the tolerance (as numpy.isclose,
    NaN equal to NaN); others (strings as text, None) equal."""
    import numpy as np

    if _is_exact(got) and _numeric(exp) is not None:
        return _exact_difference(name, exp, got)
    x, y = _numeric(got), _numeric(exp)
    if x is None or y is None:
        same = same_value(exp, got)
        return OutputDifference(name, same, mismatched=0 if same else 1, total=1,
                                problem="" if same else _unequal(exp, got))  # fmt: skip
    if x.shape != y.shape:
        return OutputDifference(name, False, problem=f"shape {list(x.shape)}, expected "
                                f"{list(y.shape)}")  # fmt: skip
    bad = ~np.isclose(x, y, rtol=rtol, atol=atol, equal_nan=True)
    diff = np.abs(x - y)
    diff = np.where(np.isnan(diff), 0.0, diff)  # NaN against NaN: equal (as isclose above)
    if not diff.size:
        return OutputDifference(name, True)
    worst = np.unravel_index(int(np.argmax(diff)), diff.shape) if diff.ndim else ()
    rel = diff / np.fmax(np.abs(y), np.finfo(np.float64).tiny)
    return OutputDifference(
        name,
        not bad.any(),
        float(diff[worst]),
        float(rel.max()),
        "" if not diff[worst] else f"{name}[{', '.join(map(str, worst))}]" if worst else name,
        int(bad.sum()),
        int(diff.size),
    )


def _output_difference(
    name: str, expected: Any, got: Any, rtol: float, atol: float
) -> OutputDifference:
    want, have = dict(leaves(expected, name)), dict(leaves(got, name))
    if want.keys() != have.keys():
        missing = sorted(want.keys() - have.keys())[:3]
        extra = sorted(have.keys() - want.keys())[:3]
        return OutputDifference(name, False, problem=f"structure differs (missing {missing}, "
                                f"unexpected {extra})")  # fmt: skip
    parts = [_leaf_difference(path, want[path], have[path], rtol, atol) for path in want]
    broken = [p for p in parts if p.problem]
    if broken:  # the leaf's path, unless it is the output itself
        first = broken[0]
        return OutputDifference(name, False, problem=first.problem if first.output == name
                                else first.describe())  # fmt: skip
    worst = max(parts, key=lambda p: p.max_abs, default=OutputDifference(name, True))
    return OutputDifference(
        name,
        all(p.ok for p in parts),
        worst.max_abs,
        max((p.max_rel for p in parts), default=0.0),
        worst.where,
        sum(p.mismatched for p in parts),
        sum(p.total for p in parts),
    )


def compare_reference(
    expected: Mapping[str, Any],
    got: Mapping[str, Any],
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
) -> tuple[OutputDifference, ...]:
    """Each expected output against what the model gave, within ``rtol``/``atol``."""
    out = []
    for name, want in expected.items():
        if name not in got:
            out.append(OutputDifference(name, False, problem="the model has no such output"))
        else:
            out.append(_output_difference(name, want, got[name], rtol, atol))
    return tuple(out)

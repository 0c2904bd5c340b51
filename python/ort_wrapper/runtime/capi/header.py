"""The ``OrtApi`` function table, read from ORT's own ``onnxruntime_c_api.h``.

``struct OrtApi`` is a list of function pointers, append-only across releases: entry *i* of a
library's table is the *i*-th member of the header that library was built from. Members are
spelt three ways (``ORT_API2_STATUS(Name, ...)``, ``ORT_CLASS_RELEASE(X)`` for ``ReleaseX``,
``ORT_API_T(ret, Name, ...)``) or as a plain ``ret(ORT_API_CALL* Name)(...)`` pointer.

``python -m ort_wrapper.runtime.capi.header HEADER [OUT.json]`` writes the table that
``ortapi.json`` (committed next to this module) holds.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from ...errors import InitError
from ...files import write_file
from ...untrusted import read_bounded

__all__ = ["ApiTable", "parse_header", "table_json"]

_COMMENTS = re.compile(r"/\*.*?\*/|//[^\n]*", re.DOTALL)
_VERSION = re.compile(r"#define\s+ORT_API_VERSION\s+(\d+)")
_STRUCT = re.compile(r"\bstruct\s+OrtApi\s*\{")
_STATUS = re.compile(r"^ORT_API2_STATUS\s*\(\s*(\w+)")
_RELEASE = re.compile(r"^ORT_CLASS_RELEASE\s*\(\s*(\w+)\s*\)")
_TYPED = re.compile(r"^ORT_API_T\s*\(.*?,\s*(\w+)\s*,", re.DOTALL)
_POINTER = re.compile(r"\(\s*ORT_API_CALL\s*\*\s*(\w+)\s*\)")


@dataclass(frozen=True)
class ApiTable:
    """Member names of ``struct OrtApi`` in order, and the ``ORT_API_VERSION`` they cover."""

    api_version: int
    functions: tuple[str, ...]

    def index(self, name: str) -> int:
        """The slot of ``name`` in the function table."""
        try:
            return self._slots[name]
        except KeyError:
            raise InitError(
                f"OrtApi has no function {name!r} (table of API {self.api_version})"
            ) from None

    @property
    def _slots(self) -> dict[str, int]:
        slots = self.__dict__.get("_slot_cache")
        if slots is None:
            slots = {n: i for i, n in enumerate(self.functions)}
            object.__setattr__(self, "_slot_cache", slots)
        return slots


def _body(text: str, where: str) -> str:
    match = _STRUCT.search(text)
    if match is None:
        raise InitError(f"{where}: no 'struct OrtApi {{' (not ONNX Runtime's C API header)")
    depth, start = 1, match.end()
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[start:i]
    raise InitError(f"{where}: 'struct OrtApi' is not closed")


def _members(body: str) -> list[str]:
    """Top-level declarations (split at ';' outside parentheses)."""
    members, depth, current = [], 0, []
    for char in body:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == ";" and depth == 0:
            members.append(" ".join("".join(current).split()))
            current = []
        else:
            current.append(char)
    return [m for m in members if m]


def _name(member: str, where: str) -> str:
    for pattern, prefix in ((_STATUS, ""), (_RELEASE, "Release"), (_TYPED, "")):
        match = pattern.match(member)
        if match:
            return prefix + match.group(1)
    match = _POINTER.search(member)
    if match:
        return match.group(1)
    raise InitError(f"{where}: unrecognised OrtApi member {member[:120]!r}")


def parse_header(path: Path) -> ApiTable:
    """Read ``struct OrtApi`` and ``ORT_API_VERSION`` from an ``onnxruntime_c_api.h``."""
    try:
        text = read_bounded(path, InitError).decode(errors="replace")
    except OSError as exc:
        raise InitError(f"cannot read {path}: {exc.strerror}") from None
    text = _COMMENTS.sub(" ", text)
    version = _VERSION.search(text)
    if version is None:
        raise InitError(f"{path}: no '#define ORT_API_VERSION' (not ONNX Runtime's C API header)")
    names = tuple(_name(m, str(path)) for m in _members(_body(text, str(path))))
    return ApiTable(int(version.group(1)), names)


def table_json(table: ApiTable, source: str) -> dict[str, object]:
    """The committed form: where it was read from, the API version, the names in order."""
    return {
        "source": source,
        "apiVersion": table.api_version,
        "functions": list(table.functions),
    }


def main(argv: list[str]) -> int:
    """Print (or write to ``argv[1]``) the table of the header ``argv[0]``."""
    header = Path(argv[0])
    text = json.dumps(table_json(parse_header(header), header.name), indent=1) + "\n"
    if len(argv) > 1:
        write_file(Path(argv[1]), text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""LLVM bitcode objects' link facts (``clang -flto``): their global symbols from ``llvm-nm`` and
their linker options (``!llvm.linker.options``, where a Windows object's ``.drectve`` text
goes in bitcode) from ``llvm-dis``; both read the bytes from stdin.
"""

from __future__ import annotations

import re
import subprocess

from ..errors import ElfError
from ..files import find_tool

__all__ = ["bitcode_linker_options", "bitcode_symbols"]

_NODE = re.compile(r"^!(\d+) = !\{(.*)\}$", re.MULTILINE)
_STRING = re.compile(r'!"((?:[^"\\]|\\.)*)"')
_ESCAPE = re.compile(r"\\([0-9A-Fa-f]{2})")


def _tool(name: str, args: list[str], label: str, data: bytes) -> str:
    tool = find_tool(name, env=name.upper().replace("-", "_"), error=ElfError, hint="install LLVM")
    done = subprocess.run([tool, *args], input=data, capture_output=True, check=False)
    if done.returncode:
        raise ElfError(f"{label}: {name} cannot read this bitcode: {done.stderr.decode().strip()}")
    return done.stdout.decode("utf-8", "replace")


def bitcode_symbols(label: str, data: bytes) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The global symbols a bitcode object defines and strongly needs, in table order."""
    defined, undefined = [], []
    for line in _tool("llvm-nm", ["-g", "--no-sort", "-"], label, data).splitlines():
        words = line.split()
        if len(words) < 2:
            continue
        kind, name = words[-2], words[-1]
        if kind == "U":
            undefined.append(name)
        elif kind not in ("w", "v"):
            defined.append(name)
    return tuple(defined), tuple(undefined)


def bitcode_linker_options(label: str, data: bytes) -> str:
    """The linker options a bitcode object carries, as one ``.drectve``-style string."""
    text = _tool("llvm-dis", ["-o", "-", "-"], label, data)
    found = re.search(r"^!llvm\.linker\.options = !\{(.*)\}$", text, re.MULTILINE)
    if found is None:
        return ""
    nodes = {int(n): body for n, body in _NODE.findall(text)}
    options = []
    for ref in re.findall(r"!(\d+)", found.group(1)):
        for raw in _STRING.findall(nodes.get(int(ref), "")):
            value = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), raw)
            options.append(value)
    return " ".join(options)

"""The shared library the C API backend drives for a distribution, and its header.

A shared distribution (a prefix, a plain directory) gives its own ``libonnxruntime.so*``. A
static one is linked into a shared object with exactly its link flags (what ``ort-wrapper
link-flags PREFIX`` prints; ORT builds position-independent code), once per set of archives:
the result is cached under ``cache_root()/capi-static/<key>``, keyed by the manifest's hashes
and flags. A link that fails is a LinkError naming the unresolved symbols, the archive that
needs each, and the archive of the distribution that defines it, if any.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
from pathlib import Path

from ...errors import InitError, LinkError
from ...files import cache_root
from ...manifest import Manifest
from ..distribution import Distribution

__all__ = ["LINK_TIMEOUT_S", "capi_library", "find_header", "link_static"]

LINK_TIMEOUT_S = 900
_HEADER = "onnxruntime_c_api.h"
_HEADER_DIRS = ("include", "usr/include")
# GNU ld: "ld: lib/x.a(y.o): in function `f':" then "y.c:(.text+0x5): undefined reference to
# `sym'" (quotes vary by locale)
_IN_FUNCTION = re.compile(r"(?P<object>[^\s:]+\.(?:a\([^)]*\)|o)): in function")
_UNDEFINED = re.compile(r"undefined reference to [`'‘](?P<sym>[^'’`]+)")


def find_header(dist: Distribution) -> Path | None:
    """The distribution's own ``onnxruntime_c_api.h`` (its includeDir, or ``include/``,
    ``usr/include/`` of a plain directory)."""
    m = dist.manifest
    roots = [m.include_dir] if m is not None and m.include_dir else list(_HEADER_DIRS)
    for rel in roots:
        base = dist.root / rel
        found = sorted(base.rglob(_HEADER)) if base.is_dir() else []
        if found:
            return found[0]
    return None


def capi_library(dist: Distribution) -> tuple[Path, Path | None]:
    """(the shared library to load, the distribution's header or None)."""
    header = find_header(dist)
    if dist.manifest is not None and dist.manifest.link_mode == "static":
        return link_static(dist.root, dist.manifest), header
    core = dist.core_library()
    if core is None:
        raise InitError(
            f"{dist.describe()} has neither an onnxruntime Python module nor a "
            "libonnxruntime.so* to run through the C API"
        )
    return core, header


def _key(manifest: Manifest, compiler: str) -> str:
    facts = {
        "files": sorted((f.path, f.sha256) for f in manifest.files if f.kind == "archive"),
        "flags": list(manifest.link_flags),
        "compiler": compiler,
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:20]


def _command(root: Path, manifest: Manifest, compiler: str, out: Path) -> list[str]:
    from ...finalize.linkflags import substitute

    flags = substitute(manifest.link_flags, root)
    if not any(f in ("-lstdc++", "-lc++") for f in flags):
        flags.append("-lstdc++")  # the archives are C++; the driver is cc
    # -u keeps OrtGetApiBase's member (and all it needs) in; --no-undefined makes a missing
    # symbol a link error here instead of a dlopen error later; --no-demangle names symbols as
    # the archives' symbol tables do.
    return [compiler, "-shared", "-o", str(out), "-Wl,-u,OrtGetApiBase", "-Wl,--no-undefined",
            "-Wl,--no-demangle", *flags, "-lm"]  # fmt: skip


def link_static(root: Path, manifest: Manifest, cc: str | None = None) -> Path:
    """The static distribution at ``root`` linked into ``libonnxruntime.so`` (cached)."""
    from .probe import run_command

    compiler = cc or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise LinkError(
            f"{root}: a static distribution runs through a shared object linked from its "
            "archives, and no C compiler is on PATH (install gcc or clang)"
        )
    if not manifest.link_flags:
        raise LinkError(f"{root}: the static distribution's manifest records no link flags")
    target = cache_root() / "capi-static" / _key(manifest, compiler) / "libonnxruntime.so"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".link-", dir=target.parent) as tmp:
        partial = Path(tmp) / target.name
        command = _command(root, manifest, compiler, partial)
        code, _, err = run_command(command, LINK_TIMEOUT_S, "linking the static distribution")
        if code != 0:
            raise LinkError(_link_failure(root, manifest, err or f"exit {code}"), tuple(command))
        partial.replace(target)
    return target


def _link_failure(root: Path, manifest: Manifest, output: str) -> str:
    """The linker's complaint, with each unresolved symbol, who needs it and which of the
    distribution's archives defines it."""
    needed: dict[str, str] = {}
    where = "?"
    for line in output.splitlines():
        if found := _IN_FUNCTION.search(line):
            where = Path(found.group("object")).name
        if found := _UNDEFINED.search(line):
            needed.setdefault(found.group("sym"), where)
    if not needed:
        return f"linking {root}'s archives into a shared object failed: {output[-1500:]}"
    providers = _definers(root, manifest, set(needed))
    shown = [
        f"{sym} (needed by {who}; "
        + (f"defined in {providers[sym]}" if sym in providers else "no archive here defines it")
        + ")"
        for sym, who in list(needed.items())[:12]
    ]
    more = f" and {len(needed) - 12} more" if len(needed) > 12 else ""
    return (
        f"{root}'s archives do not link with their own link flags: {len(needed)} unresolved "
        f"symbol(s): {'; '.join(shown)}{more}"
    )


def _definers(root: Path, manifest: Manifest, symbols: set[str]) -> dict[str, str]:
    from ...elf.archive import archive_symbols
    from ...errors import ElfError

    found: dict[str, str] = {}
    for entry in manifest.files_of_kind("archive"):
        try:
            members = archive_symbols(root / entry.path)
        except (ElfError, OSError):
            continue
        for member in members:
            for sym in symbols & member.defined:
                found.setdefault(sym, entry.path)
    return found

"""Running a static distribution: its archives linked with a C compiler, with exactly its
link flags (what ``ort-wrapper link-flags PREFIX`` prints; ORT builds position-independent code),
into a shared object the C API backend loads, or, when a dependency's archive is not
position-independent (Debian's ``libre2.a``), into a Python interpreter that exports the C API
(``link_runner``; the check worker runs in it). Both are linked once per set of archives and
cached under ``cache_root()/capi-static/<key>``, keyed by the manifest's hashes and flags. A link
that fails is a LinkError naming the unresolved symbols, the archive that needs each, and the
archive of the distribution that defines it, if any.

Only a static distribution imports this module (``init()`` of one, ``check``, ``reduce``): it
is outside the light import path of ``import ort_wrapper``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import sysconfig
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from ...elf.archive import read_archive, read_index
from ...errors import ElfError, LinkError
from ...files import cache_root, publish
from ...manifest import FileKind, Manifest, substitute
from ..distribution import Distribution, DistributionKind
from ..tools import run_command
from ..untrusted import this_program

__all__ = [
    "LINK_TIMEOUT_S",
    "c_driver_flags",
    "interpreter_for",
    "link_runner",
    "link_static",
    "linked_into_this_process",
    "static_interpreter",
]

LINK_TIMEOUT_S = 900
_RUNNER_C = (
    "#include <Python.h>\nint main(int argc, char **argv) { return Py_BytesMain(argc, argv); }\n"
)
# GNU ld: "ld: lib/x.a(y.o): in function `f':" then "y.c:(.text+0x5): undefined reference to
# `sym'" (quotes vary by locale)
_IN_FUNCTION = re.compile(r"(?P<object>[^\s:]+\.(?:a\([^)]*\)|o)): in function")
_UNDEFINED = re.compile(r"undefined reference to [`'‘](?P<sym>[^'’`]+)")


def linked_into_this_process() -> bool:
    """Whether this program itself exports ``OrtGetApiBase`` (a Python linked with a static
    distribution's archives: see ``link_runner``)."""
    try:
        return hasattr(this_program(), "OrtGetApiBase")
    except OSError:
        return False


def _key(manifest: Manifest, facts: Sequence[str]) -> str:
    data = {
        "files": sorted((f.path, f.sha256) for f in manifest.files if f.kind == FileKind.ARCHIVE),
        "flags": list(manifest.link_flags),
        "how": list(facts),
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:20]


def c_driver_flags(root: Path, manifest: Manifest) -> list[str]:
    """Exactly the distribution's link flags (what ``ort-wrapper link-flags ROOT`` prints) with
    ``${prefix}`` = ``root``, and the C++ runtime when they name none: the archives are C++,
    the driver linking them is ``cc``."""
    flags = substitute(manifest.link_flags, root)
    if not any(f in ("-lstdc++", "-lc++") for f in flags):
        flags.append("-lstdc++")
    return flags


def _flags(root: Path, manifest: Manifest) -> list[str]:
    """:func:`c_driver_flags` and what keeps the C API in: -u keeps OrtGetApiBase's member
    (and all it needs); --no-demangle names symbols as the archives' symbol tables do."""
    return ["-Wl,-u,OrtGetApiBase", "-Wl,--no-demangle", *c_driver_flags(root, manifest), "-lm"]


def _compiler(root: Path, cc: str | None) -> str:
    compiler = cc or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise LinkError(
            f"{root}: a static distribution runs through a program linked from its archives, "
            "and no C compiler is on PATH (install gcc or clang)"
        )
    return compiler


def _link(
    root: Path,
    manifest: Manifest,
    name: str,
    facts: Sequence[str],
    command: Callable[[Path, Path], list[str]],
) -> Path:
    """Link ``name`` once into ``cache_root()/capi-static/<key>/`` (``command(out, scratch)``
    gives the command); LinkError names what did not resolve."""
    if not manifest.link_flags:
        raise LinkError(f"{root}: the static distribution's manifest records no link flags")
    target = cache_root() / "capi-static" / _key(manifest, facts) / name
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".link-", dir=target.parent) as tmp:
        argv = command(Path(tmp) / name, Path(tmp))
        code, _, err = run_command(argv, LINK_TIMEOUT_S, "linking the static distribution")
        if code != 0:
            raise LinkError(_link_failure(root, manifest, err or f"exit {code}"), tuple(argv))
        publish(Path(tmp) / name, target, LinkError)
    return target


def link_static(root: Path, manifest: Manifest, cc: str | None = None) -> Path:
    """The static distribution at ``root`` linked into ``libonnxruntime.so`` (cached);
    --no-undefined makes a missing symbol a link error here, not a dlopen error later."""
    compiler = _compiler(root, cc)
    flags = _flags(root, manifest)
    return _link(
        root,
        manifest,
        "libonnxruntime.so",
        (compiler, "shared"),
        lambda out, _: [compiler, "-shared", "-o", str(out), "-Wl,--no-undefined", *flags],
    )


def _python_flags() -> tuple[list[str], list[str], str]:
    """How to embed this Python: include flags, link flags, and what is missing (or "")."""
    include = sysconfig.get_config_var("INCLUDEPY") or ""
    libdir = sysconfig.get_config_var("LIBDIR") or ""
    version = sysconfig.get_config_var("LDVERSION") or sysconfig.get_config_var("VERSION")
    if not (Path(include) / "Python.h").is_file():
        return [], [], f"{include}/Python.h (install python{version}-dev)"
    if not any(Path(libdir).glob(f"libpython{version}.*")):
        return [], [], f"{libdir}/libpython{version}.so (install libpython{version}-dev)"
    libs = (sysconfig.get_config_var("LIBS") or "").split()
    link = [f"-L{libdir}", f"-Wl,-rpath,{libdir}", f"-lpython{version}", *libs]
    return [f"-I{include}"], link, ""


def link_runner(root: Path, manifest: Manifest, cc: str | None = None) -> Path:
    """A Python interpreter linked with the static distribution's archives (its link flags,
    symbols exported): for archives that do not link into a shared object (a dependency's
    archive built without -fPIC), this program is where the C API backend runs them."""
    compiler = _compiler(root, cc)
    include, python, missing = _python_flags()
    if missing:
        raise LinkError(
            f"cannot build a Python linked with {root}'s archives: {missing} is missing"
        )
    flags = _flags(root, manifest)

    def command(out: Path, scratch: Path) -> list[str]:
        source = scratch / "runner.c"
        source.write_text(_RUNNER_C)
        return [compiler, str(source), *include, "-o", str(out), "-Wl,--export-dynamic",
                *flags, *python]  # fmt: skip

    return _link(root, manifest, "python-ort", (compiler, "runner", sys.version), command)


def static_interpreter(root: Path, manifest: Manifest) -> tuple[str, dict[str, str]]:
    """The Python that can run a static distribution, and the environment it needs: this one
    when the archives link into a shared object, else ``link_runner``'s (with this Python's
    home and search path). LinkError when neither links."""
    try:
        link_static(root, manifest)
        return sys.executable, {}
    except LinkError as shared:
        try:
            runner = link_runner(root, manifest)
        except LinkError as exc:
            raise LinkError(f"{shared}; and {exc}", exc.command) from None
    home = sys.base_prefix
    if sys.base_exec_prefix != sys.base_prefix:
        home += os.pathsep + sys.base_exec_prefix
    # this search path, and where ort_wrapper itself lives (an editable install's .pth hook
    # is not run for PYTHONPATH entries)
    package_parent = str(Path(__file__).resolve().parents[3])
    path = os.pathsep.join(dict.fromkeys([package_parent, *(p for p in sys.path if p)]))
    return str(runner), {"PYTHONHOME": home, "PYTHONPATH": path}


def interpreter_for(dist: Distribution) -> tuple[str, dict[str, str]]:
    """The Python (and the environment it needs) in which ``init(dist.root)`` works: this one,
    or for a static distribution whose archives do not link into a shared object, a Python
    linked with them (LinkError when neither)."""
    if dist.kind is not DistributionKind.STATIC:
        return sys.executable, {}
    assert dist.manifest is not None
    return static_interpreter(dist.path, dist.manifest)


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
    """Which of the distribution's archives defines each symbol, from the archives' symbol
    indexes: what a linker (and ``ort-wrapper link-check``, whose reader this is) loads by."""
    found: dict[str, str] = {}
    for entry in manifest.files_of_kind(FileKind.ARCHIVE):
        try:
            index = read_index(read_archive(root / entry.path))
        except (ElfError, OSError):
            continue
        for name, _ in index:
            if name in symbols:
                found.setdefault(name, entry.path)
    return found

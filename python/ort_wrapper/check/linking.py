"""The linking section: every shared object resolves, runs on this host's glibc and libstdc++,
and the C API answers with the distribution's version (or, for a static distribution, a C
program links against its archives and runs)."""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from pathlib import Path

from ..elf.reader import ElfInfo, read_elf
from ..elf.resolve import LibrarySource, resolve_closure
from ..elf.versions import check_versions, host_versions, max_required, provided_by
from ..errors import ElfError, VariantError
from ..matrix import api_version_for
from ..report import FAIL, INFO, PASS, Check, Section, Table, shortlist
from ..runtime.target import Target
from .capi import CapiResult, probe_shared, probe_static
from .digests import digest_check

__all__ = ["linking_section", "shared_objects"]

log = logging.getLogger(__name__)

_CORE_PREFIX = "libonnxruntime.so"


def shared_objects(target: Target) -> tuple[list[Path], list[str]]:
    """The distribution's ELF shared objects (``Distribution.shared_objects``), and the manifest
    entries that are missing."""
    layout = target.layout
    if layout is None:
        return [], []
    missing = []
    if target.manifest is not None and target.root is not None:
        root = str(target.root)  # os.path: a manifest may list 10**5 files
        missing = [e.path for e in target.manifest.files if not os.path.exists(f"{root}/{e.path}")]
    return list(layout.shared_objects()), missing


def _preloaded_sonames(target: Target) -> dict[str, Path]:
    if target.manifest is None or target.root is None:
        return {}
    sonames = {}
    for rel in target.manifest.preload:
        path = target.root / rel
        try:
            sonames[read_elf(path).soname or path.name] = path
        except ElfError:
            continue
    return sonames


def _object_checks(
    path: Path, target: Target, preloaded: dict[str, Path]
) -> tuple[list[Check], list[tuple[str, ...]], ElfInfo | None]:
    name = path.name
    try:
        info = read_elf(path)
        closure = resolve_closure(path)
    except ElfError as exc:
        return [Check(f"ELF {name}", FAIL, str(exc))], [], None
    rows, unresolved, sources = [], [], Counter()
    for lib in closure.libraries.values():
        source, where = lib.source, str(lib.path) if lib.path else ""
        if not lib.found and lib.soname in preloaded:
            source, where = "preload (manifest)", str(preloaded[lib.soname])
        if source == LibrarySource.MISSING:
            unresolved.append(f"{lib.soname} (needed by {', '.join(lib.needed_by)})")
        sources[source] += 1
        rows.append((name, lib.soname, source, where))
    data = {
        "needed": list(info.needed),
        "runpath": list(info.runpath),
        "rpath": list(info.rpath),
        "unresolved": unresolved,
        "resolved": {
            r[1]: {"source": r[2], "path": r[3]} for r in rows if r[2] != LibrarySource.MISSING
        },
    }
    if unresolved:
        needed = Check(f"NEEDED of {name}", FAIL, "unresolved: " + "; ".join(unresolved), data)
    else:
        how = ", ".join(f"{n} from {s}" for s, n in sorted(sources.items()))
        needed = Check(
            f"NEEDED of {name}",
            PASS,
            f"{len(rows)} libraries resolve ({how or 'none needed'})",
            data,
        )
    provided = provided_by(closure)
    versions = check_versions([info], provided)
    failing = [v for v in versions if not v.ok]
    text = ", ".join(f"{v.required} (host {v.provided or 'none'})" for v in versions)
    version_check = Check(
        f"symbol versions of {name}",
        FAIL if failing else PASS,
        (f"host too old: {text}" if failing else text) or "no GLIBC/GLIBCXX/CXXABI requirements",
        {"required": max_required([info]), "host": provided},
    )
    return [needed, version_check], rows, info


def _capi_check(target: Target) -> Check:
    version = target.version
    if version is None:
        return Check(
            "C API", FAIL, "the distribution does not say which ONNX Runtime version it is"
        )
    try:
        api = api_version_for(version)
    except VariantError as exc:
        return Check("C API", FAIL, str(exc))
    if target.kind == "static":
        assert target.manifest is not None and target.root is not None
        result = probe_static(target.root, target.manifest, api)
        name = "C API (static link)"
    else:
        core = target.layout.core_library() if target.layout is not None else None
        if core is None:
            return Check(
                "C API", FAIL, f"no {_CORE_PREFIX}* among the distribution's shared objects"
            )
        root = target.layout.root if target.layout is not None else core.parent
        preload = [root / p for p in target.manifest.preload] if target.manifest else []
        result = probe_shared(core, root, api, preload)
        name = f"C API ({core.name})"
    return _capi_verdict(name, result, version)


def _static_checks(target: Target) -> list[Check]:
    """The archives linked with their own flags into what the session sections run: a shared
    object (what a consumer's ``-shared`` link gives), else a Python interpreter linked with
    them (what an executable's link gives); cached by the manifest's hashes."""
    from ..errors import OrtWrapperError
    from ..runtime.capi.library import link_runner, link_static

    assert target.manifest is not None and target.root is not None
    start = time.monotonic()
    try:
        built = link_static(target.root, target.manifest)
    except OrtWrapperError as exc:
        shared_error = exc
    else:
        took = time.monotonic() - start
        return [
            Check(
                "shared object from the link flags",
                PASS,
                f"{built} ({built.stat().st_size / 2**20:.1f} MiB, {took:.1f} s; cached)",
                {"path": str(built), "seconds": took},
            )
        ]
    command = list(getattr(shared_error, "command", ()))
    try:
        runner = link_runner(target.root, target.manifest)
    except OrtWrapperError as exc:
        return [
            Check(
                "shared object from the link flags", FAIL, str(shared_error), {"command": command}
            ),
            Check("Python linked with the archives", FAIL, str(exc)),
        ]
    took = time.monotonic() - start
    return [
        Check(
            "shared object from the link flags",
            INFO,
            f"not as a shared object (a consumer's -shared link fails alike): {shared_error}",
            {"command": command},
        ),
        Check(
            "Python linked with the archives",
            PASS,
            f"{runner} ({took:.1f} s; cached): the session sections run in it",
            {"runner": str(runner), "seconds": took},
        ),
    ]


def _capi_verdict(name: str, result: CapiResult, version: str) -> Check:
    data = {
        "api": result.api,
        "apiOk": result.api_ok,
        "version": result.version,
        "command": list(result.command),
    }
    if result.error:
        return Check(name, FAIL, result.error, data)
    if not result.api_ok:
        return Check(
            name, FAIL, f"GetApi({result.api}) returned NULL (version {result.version})", data
        )
    if result.version != version:
        return Check(name, FAIL, f"GetVersionString() = {result.version}, expected {version}", data)
    return Check(
        name, PASS, f"GetApi({result.api}) non-null; GetVersionString() = {result.version}", data
    )


def linking_section(target: Target) -> Section:
    """Run the linking section on ``target`` (never raises for a bad distribution)."""
    start = time.monotonic()
    checks: list[Check] = []
    if target.manifest is None and target.kind == "broken":
        checks.append(Check("distribution", FAIL, target.problem or "not a distribution"))
        return Section("linking", tuple(checks), seconds=time.monotonic() - start)
    objects, missing = shared_objects(target)
    if target.manifest is not None:
        if missing:
            checks.append(
                Check(
                    "manifest files", FAIL, "missing: " + shortlist(missing), {"missing": missing}
                )
            )
        else:
            checks.append(
                Check(
                    "manifest files", PASS, f"all {len(target.manifest.files)} listed files present"
                )
            )
    digests = digest_check(target)
    if digests is not None:
        checks.append(digests)
    preloaded = _preloaded_sonames(target)
    rows: list[tuple[str, ...]] = []
    objects_rows: list[tuple[str, ...]] = []
    for path in objects:
        object_checks, closure_rows, info = _object_checks(path, target, preloaded)
        checks.extend(object_checks)
        rows.extend(closure_rows)
        if info is not None:
            required = max_required([info])
            objects_rows.append(
                (
                    path.name,
                    info.soname or "-",
                    ":".join(info.runpath) or "-",
                    *(required.get(f, "-") for f in ("GLIBC", "GLIBCXX", "CXXABI")),
                )
            )
    if target.kind != "static" and not objects:
        checks.append(Check("shared objects", FAIL, "the distribution has no shared objects"))
    checks.append(_capi_check(target))
    if target.kind == "static":
        checks.extend(_static_checks(target))
    host = host_versions()
    tables = (
        Table(
            f"shared objects (host provides {', '.join(host.values())})",
            ("object", "SONAME", "RUNPATH", "GLIBC", "GLIBCXX", "CXXABI"),
            tuple(objects_rows),
        ),
        Table(
            "where each needed library resolves", ("object", "needs", "from", "path"), tuple(rows)
        ),
    )
    return Section("linking", tuple(checks), tables, time.monotonic() - start)

"""The linking section: every shared object resolves, runs on this host's glibc and libstdc++,
and the C API answers with the distribution's version (or, for a static distribution, a C
program links against its archives and runs)."""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from pathlib import Path

from ..elf.loadable import LoadDiagnosis, ObjectLoad, diagnose_load, family_fix, missing_fix
from ..elf.reader import read_elf
from ..elf.resolve import LibrarySource
from ..elf.versions import host_versions
from ..errors import ElfError, VariantError
from ..matrix import api_version_for
from ..report import FAIL, INFO, PASS, SKIP, Check, Section, Table, shortlist
from ..runtime.diagnose import version_check
from ..runtime.distribution import CORE_GLOB, Distribution, DistributionKind
from .capi import CapiResult, probe_shared, probe_static
from .digests import digest_check

__all__ = ["linking_section", "shared_objects"]

log = logging.getLogger(__name__)


def shared_objects(target: Distribution) -> tuple[list[Path], list[str]]:
    """The distribution's ELF shared objects (``Distribution.shared_objects``), and the manifest
    entries that are missing."""
    if not target.has_files:
        return [], []
    missing = []
    if target.manifest is not None:
        root = str(target.root)  # os.path: a manifest may list 10**5 files
        missing = [e.path for e in target.manifest.files if not os.path.exists(f"{root}/{e.path}")]
    return list(target.shared_objects()), missing


def _preloaded_sonames(target: Distribution) -> dict[str, Path]:
    sonames = {}
    for path in target.preload:
        try:
            sonames[read_elf(path).soname or path.name] = path
        except ElfError:
            continue
    return sonames


def _needed_check(obj: ObjectLoad, preloaded: dict[str, Path], fix: str) -> tuple[Check, list]:
    """The closure of one object (diagnosed by ``elf.loadable``): where each library resolves."""
    assert obj.info is not None and obj.closure is not None
    name = obj.path.name
    rows, unresolved, sources = [], [], Counter()
    for lib in obj.closure.libraries.values():
        source, where = lib.source, str(lib.path) if lib.path else ""
        if not lib.found and lib.soname in preloaded:
            source, where = "preload (manifest)", str(preloaded[lib.soname])
        if source == LibrarySource.MISSING:
            unresolved.append(f"{lib.soname} (needed by {', '.join(lib.needed_by)})")
        sources[source] += 1
        rows.append((name, lib.soname, source, where))
    data = {
        "needed": list(obj.info.needed),
        "runpath": list(obj.info.runpath),
        "rpath": list(obj.info.rpath),
        "unresolved": unresolved,
        "resolved": {
            r[1]: {"source": r[2], "path": r[3]} for r in rows if r[2] != LibrarySource.MISSING
        },
    }
    if unresolved:
        detail = "unresolved: " + "; ".join(unresolved)
        return Check(f"NEEDED of {name}", FAIL, detail, data, fix), rows
    how = ", ".join(f"{n} from {s}" for s, n in sorted(sources.items()))
    detail = f"{len(rows)} libraries resolve ({how or 'none needed'})"
    return Check(f"NEEDED of {name}", PASS, detail, data), rows


def _versions_check(obj: ObjectLoad) -> Check:
    """The highest GLIBC/GLIBCXX/CXXABI the object and its non-system libraries need, against
    what its closure resolves to."""
    failing = {v.family: v.required for v in obj.checks if not v.ok}
    text = ", ".join(
        f"{v.required} (host {v.provided or 'none'}"
        + (f"; needed by {', '.join(obj.needed_by[v.family][:3])})" if not v.ok else ")")
        for v in obj.checks
    )
    return Check(
        f"symbol versions of {obj.path.name}",
        FAIL if failing else PASS,
        (f"host too old: {text}" if failing else text) or "no GLIBC/GLIBCXX/CXXABI requirements",
        {"required": {v.family: v.required for v in obj.checks}, "host": dict(obj.provided)},
        family_fix(failing) if failing else "",
    )


def _object_checks(
    obj: ObjectLoad, diagnosis: LoadDiagnosis, preloaded: dict[str, Path]
) -> tuple[list[Check], list[tuple[str, ...]]]:
    if obj.error is not None:
        return [Check(f"ELF {obj.path.name}", FAIL, obj.error)], []
    fix = missing_fix(
        {lib.soname: lib.needed_by for lib in obj.missing if lib.soname not in preloaded},
        diagnosis.in_folder,
    )
    needed, rows = _needed_check(obj, preloaded, fix)
    return [needed, _versions_check(obj)], rows


def _capi_check(target: Distribution) -> Check:
    version = target.version
    if version is None:
        return Check(
            "C API", FAIL, "the distribution does not say which ONNX Runtime version it is"
        )
    try:
        api = api_version_for(version)
    except VariantError as exc:
        return Check("C API", FAIL, str(exc))
    if target.kind is DistributionKind.STATIC:
        assert target.manifest is not None
        result = probe_static(target.path, target.manifest, api)
        name = "C API (static link)"
    else:
        core = target.core_library()
        if core is None:
            return Check("C API", FAIL, f"no {CORE_GLOB} among the distribution's shared objects")
        result = probe_shared(core, target.path, api, target.preload)
        name = f"C API ({core.name})"
    return _capi_verdict(name, result, version)


def _static_checks(target: Distribution) -> list[Check]:
    """The archives linked with their own flags into what the session sections run: a shared
    object (what a consumer's ``-shared`` link gives), else a Python interpreter linked with
    them (what an executable's link gives); cached by the manifest's hashes."""
    from ..errors import OrtWrapperError
    from ..runtime.capi.static import link_runner, link_static

    assert target.manifest is not None
    start = time.monotonic()
    try:
        built = link_static(target.path, target.manifest)
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
        runner = link_runner(target.path, target.manifest)
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


def _predicted(target: Distribution) -> list[Check]:
    """``ort-wrapper link-check``'s judgement of the link the next checks make, from the files
    before it runs (its readers and its simulation: ``linkcheck``): the distribution's archives
    loaded from ``OrtGetApiBase`` (``-u``) into a shared object. Its verdicts name the member
    a failing link is about (a non-position-independent one, a C++ runtime mix); the real links
    below decide, so a predicted failure is information here."""
    from ..linkcheck import link_check
    from ..linkcheck.inputs import dist_inputs

    try:
        report = link_check(dist_inputs(target.path), "shared", undefined=("OrtGetApiBase",))
    except ElfError as exc:
        return [Check("link-check (shared)", FAIL, str(exc), fix="rebuild or replace it")]
    checks = []
    for section in report.sections:
        if section.name == "inputs" and section.status != FAIL:
            continue
        failed = [c for c in section.checks if c.status == FAIL]
        shown = failed or list(section.checks)
        detail = "; ".join(f"{c.name}: {c.detail}" for c in shown[:3])
        status = INFO if failed else section.status
        fix = next((c.fix for c in failed if c.fix), "")
        data = {"section": section.to_json()}
        checks.append(Check(f"link-check {section.name} (shared)", status, detail, data, fix))
    return checks


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


def _manifest_checks(target: Distribution, missing: list[str]) -> list[Check]:
    checks = []
    if target.manifest is not None:
        if missing:
            detail = "missing: " + shortlist(missing)
            checks.append(Check("manifest files", FAIL, detail, {"missing": missing}))
        else:
            detail = f"all {len(target.manifest.files)} listed files present"
            checks.append(Check("manifest files", PASS, detail))
    digests = digest_check(target)
    return checks + ([digests] if digests is not None else [])


def _object_row(obj: ObjectLoad) -> tuple[str, ...]:
    assert obj.info is not None
    required = {v.family: v.required for v in obj.checks}
    return (
        obj.path.name,
        obj.info.soname or "-",
        ":".join(obj.info.runpath) or "-",
        *(required.get(f, "-") for f in ("GLIBC", "GLIBCXX", "CXXABI")),
    )


def _tables(objects_rows: list, rows: list) -> tuple[Table, ...]:
    host = host_versions()
    return (
        Table(
            f"shared objects (host provides {', '.join(host.values())})",
            ("object", "SONAME", "RUNPATH", "GLIBC", "GLIBCXX", "CXXABI"),
            tuple(objects_rows),
        ),
        Table(
            "where each needed library resolves", ("object", "needs", "from", "path"), tuple(rows)
        ),
    )


def _unloadable(target: Distribution, diagnosis: LoadDiagnosis) -> list[Check]:
    """A folder holding ``libonnxruntime.so*`` that is no usable distribution: why (what the
    files show, not only the loader's first complaint), and no C API probe."""
    problem, fix = target.problem or "not a distribution", "see the checks below"
    core = target.core_library()
    if core is not None and not diagnosis.ok:
        problem, fix = diagnosis.refusal(core), diagnosis.fix()
    return [
        Check("distribution", FAIL, problem, fix=fix),
        Check("C API", SKIP, "not loaded: the files show it cannot load here (see above)"),
    ]


def linking_section(target: Distribution) -> Section:
    """Run the linking section on ``target`` (never raises for a bad distribution). Every
    shared object is diagnosed from its files (``elf.loadable``) before the C API probe
    loads anything."""
    start = time.monotonic()
    if not target.has_files:
        check = Check("distribution", FAIL, target.problem or "not a distribution")
        return Section("linking", (check,), seconds=time.monotonic() - start)
    objects, missing = shared_objects(target)
    checks = _manifest_checks(target, missing)
    preloaded = _preloaded_sonames(target)
    diagnosis = diagnose_load(objects, preloaded)
    rows: list[tuple[str, ...]] = []
    objects_rows: list[tuple[str, ...]] = []
    for obj in diagnosis.objects:
        object_checks, closure_rows = _object_checks(obj, diagnosis, preloaded)
        checks.extend(object_checks)
        rows.extend(closure_rows)
        if obj.info is not None:
            objects_rows.append(_object_row(obj))
    static = target.kind is DistributionKind.STATIC
    if not static and not objects:
        checks.append(Check("shared objects", FAIL, "the distribution has no shared objects"))
    if target.kind is DistributionKind.BROKEN and target.manifest is None:
        checks[:0] = _unloadable(target, diagnosis)
    else:
        checks.append(version_check(target.version))
        checks.append(_capi_check(target))
    if static:
        checks.extend(_predicted(target))
        checks.extend(_static_checks(target))
    return Section("linking", tuple(checks), _tables(objects_rows, rows), time.monotonic() - start)

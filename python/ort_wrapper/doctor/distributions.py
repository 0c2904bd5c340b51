"""Which ONNX Runtime distributions are installed or pointed to, and which one init() would use.

Reads files only (package metadata, RECORD lists, ``capi/build_and_package_info.py``, manifests):
importing the wrong ``onnxruntime`` is part of what is being diagnosed.
"""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

from ..elf.loadable import LoadDiagnosis, diagnose_load, missing_fix
from ..files import distribution_name, record_hash, sha256_file
from ..report import FAIL, PASS, WARN, Check, Kind
from ..runtime.diagnose import version_check
from ..runtime.distribution import (
    CARRIED_BUNDLE,
    ENV_VARS,
    Distribution,
    DistributionKind,
    env_root,
    locate,
    python_constants,
)

__all__ = [
    "InstalledDistribution",
    "distribution_findings",
    "installed_onnxruntime",
    "on_disk_owners",
    "package_info",
    "shared_files",
]


def package_info(module_root: Path) -> dict[str, str]:
    """``onnxruntime/capi/build_and_package_info.py`` as data (package_name, __version__,
    cuda_version, ...): which wheel wrote the files on disk, read without importing them."""
    return python_constants(module_root / "capi" / "build_and_package_info.py")


@dataclass(frozen=True)
class InstalledDistribution:
    """An installed ``onnxruntime*`` Python distribution (wheel) and the files it owns."""

    name: str  # normalised: onnxruntime, onnxruntime-gpu, ...
    version: str
    location: Path  # the site-packages directory it is installed in
    files: frozenset[str]  # RECORD paths under ``location`` (no metadata, caches or scripts)
    hashes: Mapping[str, str] = field(default_factory=dict)  # path -> RECORD "sha256=..."

    def label(self) -> str:
        """'onnxruntime-gpu 1.23.2'."""
        return f"{self.name} {self.version}"

    def to_json(self) -> dict[str, Any]:
        """The JSON form (files counted, not listed)."""
        return {
            "name": self.name,
            "version": self.version,
            "location": str(self.location),
            "files": len(self.files),
        }


def _owned(dist: importlib.metadata.Distribution) -> dict[str, str]:
    out = {}
    for entry in dist.files or ():
        text = entry.as_posix()
        if text.startswith("..") or "__pycache__" in entry.parts:
            continue
        if entry.parts and entry.parts[0].endswith((".dist-info", ".egg-info")):
            continue
        out[text] = f"{entry.hash.mode}={entry.hash.value}" if entry.hash else ""
    return out


def _record_hash(path: Path) -> str | None:
    """A file's hash in RECORD's form (sha256=urlsafe-base64, unpadded)."""
    try:
        return record_hash(bytes.fromhex(sha256_file(path)))
    except OSError:
        return None


def on_disk_owners(a: InstalledDistribution, b: InstalledDistribution) -> dict[str, int]:
    """For the shared files whose RECORD hashes differ: how many on disk match each package
    (and 'neither'): whose files the import would really get."""
    counts = {a.name: 0, b.name: 0, "neither": 0}
    for relpath in sorted(shared_files(a, b)):
        ha, hb = a.hashes.get(relpath), b.hashes.get(relpath)
        if not ha or not hb or ha == hb:
            continue
        actual = _record_hash(a.location / relpath)
        counts[a.name if actual == ha else b.name if actual == hb else "neither"] += 1
    return counts


def installed_onnxruntime(
    paths: Sequence[str] | None = None,
) -> tuple[InstalledDistribution, ...]:
    """Every ``onnxruntime*`` distribution on ``paths`` (default ``sys.path``), each once."""
    found: dict[tuple[str, Path], InstalledDistribution] = {}
    kwargs = {} if paths is None else {"path": list(paths)}
    for dist in importlib.metadata.distributions(**kwargs):
        name = distribution_name(dist.metadata["Name"] or "")
        if not name.startswith("onnxruntime"):
            continue
        location = Path(str(dist.locate_file(""))).resolve()
        key = (name, location)
        if key not in found:
            owned = _owned(dist)
            found[key] = InstalledDistribution(
                name, dist.version, location, frozenset(owned), owned
            )
    return tuple(found.values())


def shared_files(a: InstalledDistribution, b: InstalledDistribution) -> frozenset[str]:
    """Files both distributions own (empty unless they share a site-packages directory)."""
    return a.files & b.files if a.location == b.location else frozenset()


def _telling(relpath: str) -> tuple[int, str]:
    """Sort key: the files a user recognises first (__init__.py, then shared objects)."""
    name = relpath.rsplit("/", 1)[-1]
    rank = 0 if relpath.count("/") == 1 and name == "__init__.py" else 1 if ".so" in name else 2
    return rank, relpath


def _to_keep(
    a: InstalledDistribution, b: InstalledDistribution, winner: str
) -> InstalledDistribution:
    """The package to reinstall: the plain CPU ``onnxruntime`` usually arrives as another
    package's dependency, so keep the specialised one; otherwise the one whose files won."""
    if b.name == "onnxruntime":
        return a
    if a.name == "onnxruntime":
        return b
    return a if winner == a.name else b


def _conflict_findings(installed: Iterable[InstalledDistribution]) -> list[Check]:
    findings = []
    for a, b in combinations(installed, 2):
        common = shared_files(a, b)
        if not common:
            continue
        example = ", ".join(sorted(common, key=_telling)[:2])
        owners = on_disk_owners(a, b)
        mixed = ", ".join(f"{n} {c}" for n, c in owners.items() if c)
        where = f"; of the files that differ, on disk: {mixed}" if mixed else ""
        winner = max((a.name, b.name), key=lambda n: owners[n])
        keep = _to_keep(a, b, winner)
        if sum(1 for count in owners.values() if count) == 1 and owners[winner]:
            where += f" (import onnxruntime gets {winner}'s build)"
        elif mixed:
            where += " (a mix of builds: importing it may fail or behave unpredictably)"
        fact = (
            f"{a.label()} and {b.label()} are both installed in {a.location} and own the "
            f"same {len(common)} files ({example}, ...){where}"
        )
        fix = (
            f"pip uninstall -y {a.name} {b.name} && pip install {keep.name}=={keep.version} "
            "(uninstalling only one deletes files the other needs; if a dependency pulls "
            "the other back, install that dependency with --no-deps)"
        )
        findings.append(Check(Kind.DIST_CONFLICT, FAIL, fact, fix=fix))
    return findings


def _version_findings(installed: Iterable[InstalledDistribution], expected: str) -> list[Check]:
    return [
        Check(
            Kind.DIST_VERSION,
            WARN,
            f"{d.label()} in {d.location}: this toolkit builds and tests ONNX Runtime {expected}",
            fix=f"pip install {d.name}=={expected}",
        )
        for d in installed
        if d.version != expected
    ]


def _same(name: str, chosen_by: str | None, env: dict[str, str | None]) -> bool:
    """Whether two of ENV_VARS name one distribution (``ort-wrapper env`` sets
    ORT_LIB_LOCATION to the library folder of the root ORT_WRAPPER_DIST names)."""
    if name not in env or chosen_by not in env:
        return False
    first, second = env[name], env[chosen_by]
    return bool(first and second) and env_root(name, first) == env_root(chosen_by, second)


def _env_findings(chosen_by: str | None) -> tuple[list[Check], dict[str, Any]]:
    findings = []
    env = {var: os.environ.get(var) for var in ENV_VARS}
    bundle = CARRIED_BUNDLE if CARRIED_BUNDLE.exists() else None
    pointers = [(var, f"{var}={value}") for var, value in env.items() if value]
    if bundle is not None:
        pointers.append(("carried bundle", f"a carried bundle at {bundle}"))
    for name, what in pointers:
        if name == chosen_by:
            fact = f"{what} decides which distribution init() uses"
            findings.append(Check(Kind.DIST_ENV, PASS, fact))
        elif _same(name, chosen_by, env):
            fact = f"{what} names the same distribution as {chosen_by}"
            findings.append(Check(Kind.DIST_ENV, PASS, fact))
        elif chosen_by == "--dist":
            fact = f"{what} is what init() without an argument would use; --dist overrides it here"
            findings.append(Check(Kind.DIST_ENV, PASS, fact))
        elif chosen_by is not None:
            fact = f"{what} is ignored: {chosen_by} comes first"
            fix = "remove one of them, so that what init() loads is what you meant"
            findings.append(Check(Kind.DIST_ENV, WARN, fact, fix=fix))
    details = {"environment": env, "carriedBundle": str(bundle) if bundle else None}
    return findings, details


def _owner(root: Path, installed: Iterable[InstalledDistribution]) -> list[str]:
    relative = "onnxruntime/__init__.py"
    return [
        d.name for d in installed if d.location == root.parent.resolve() and relative in d.files
    ]


def _selected_findings(
    dist: Distribution, expected: str, installed: Sequence[InstalledDistribution]
) -> tuple[list[Check], dict[str, Any]]:
    details: dict[str, Any] = {
        "kind": dist.kind,
        "root": str(dist.root),
        "origin": dist.origin,
        "libraryDirs": [str(d) for d in dist.library_dirs],
    }
    if dist.kind is DistributionKind.MODULE:
        info = package_info(dist.path)
        version = info.get("__version__")
        owners = _owner(dist.root, installed)
        wrote = info.get("package_name")
        details.update(version=version, owners=owners, packageOnDisk=wrote, buildInfo=info)
        by = f"files from {wrote}" if wrote else "no package info"
        label = f"{', '.join(owners) or 'no installed package'} ({by})"
    elif dist.manifest is None:  # a plain directory holding libonnxruntime.so*
        version = dist.version
        details.update(version=version, variant=None)
        label = "a C library directory without a manifest, run through the C API"
    else:
        version = dist.manifest.version
        details.update(version=version, variant=dist.manifest.variant)
        label = f"variant {dist.manifest.variant}, {dist.manifest.link_mode}"
    fact = f"init() would use {dist.root} ({dist.origin}): ONNX Runtime {version}, {label}"
    fix = (
        f"pip install {(details.get('owners') or ['onnxruntime'])[0]}=={expected}"
        if dist.kind is DistributionKind.MODULE
        else f"point {'--dist' if dist.origin == 'argument' else dist.origin} at an ONNX Runtime "
        f"{expected} distribution"
    )
    findings = [Check(Kind.DIST_SELECTED, PASS, fact)]
    findings.append(version_check(version, "the distribution init() would use", fix))
    return findings, details


def _unusable(
    problem: str, given: str | None, expected: str, diagnosis: LoadDiagnosis | None
) -> list[Check]:
    """Why no distribution can be used, and the fix: for a folder holding
    ``libonnxruntime.so*``, what its files show (every missing library, the glibc it needs),
    never that it lacks one."""
    chosen = "--dist" if given else next((v for v in ENV_VARS if os.environ.get(v)), None)
    if diagnosis is not None and diagnosis.objects:
        held = diagnosis.objects[0].path
        if diagnosis.ok:
            fix = (
                f"{held} is there and its files show no reason it cannot load: see the "
                f"problem; or point {chosen} at another distribution"
            )
        else:
            problem = diagnosis.refusal(held)
            fix = diagnosis.fix()
        checks = [Check(Kind.DIST_UNUSABLE, FAIL, problem, fix=fix)]
        if diagnosis.missing:
            names = ", ".join(
                f"{s} (needed by {', '.join(w)})" for s, w in diagnosis.missing.items()
            )
            fact = f"libraries the loader would not find: {names}"
            fix = missing_fix(diagnosis.missing, diagnosis.in_folder)
            checks.append(
                Check(Kind.CORE_CLOSURE, FAIL, fact, {"missing": dict(diagnosis.missing)}, fix)
            )
        return checks
    if chosen:
        fix = (
            f"fix {chosen} (a directory holding share/ort-wrapper/manifest.json or "
            "libonnxruntime.so*) or unset it"
        )
    else:
        fix = (
            "pip install 'ort-wrapper[cpu]' (or 'ort-wrapper[gpu]' for onnxruntime-gpu), "
            f"which installs ONNX Runtime {expected}; or set ORT_WRAPPER_DIST to a distribution"
        )
    return [Check(Kind.DIST_UNUSABLE, FAIL, problem, fix=fix)]


def _static_findings(target: Distribution, expected: str) -> tuple[list[Check], dict[str, Any]]:
    """A static C distribution is not loaded from Python: say what applies to it."""
    assert target.manifest is not None and target.root is not None
    m = target.manifest
    details: dict[str, Any] = {
        "kind": DistributionKind.STATIC,
        "root": str(target.root),
        "version": m.version,
        "variant": m.variant,
        "providers": list(m.providers),
    }
    root = target.root
    findings = [
        Check(
            Kind.DIST_STATIC,
            PASS,
            f"{root} is a {m.variant} static C distribution of ONNX Runtime {m.version} "
            f"(providers {', '.join(m.providers)}): programs link it; init() and check run it "
            "through the C API from a shared object linked with its own link flags, which "
            "doctor does not build, so the provider and process findings are not computed; "
            "host versions are judged on its shared objects, if it has any",
            fix=f"link with `ort-wrapper link-flags {root}`; prove it links and runs with "
            f"`ort-wrapper check --dist {root}`",
        )
    ]
    fix = f"use an ONNX Runtime {expected} distribution"
    findings.append(version_check(m.version, str(root), fix))
    return findings, details


def distribution_findings(
    given: str | None, expected: str
) -> tuple[list[Check], dict[str, Any], Distribution | None, LoadDiagnosis]:
    """Findings about installed and pointed-to distributions, their details, the distribution
    init() would use (None when it cannot choose one), and the diagnosis of the shared objects
    to judge host versions on, read before anything loads (also for a static C distribution,
    which init() cannot use, and for a folder holding a library that cannot load here)."""
    installed = installed_onnxruntime()
    findings: list[Check] = []
    details: dict[str, Any] = {
        "expectedVersion": expected,
        "installed": [d.to_json() for d in installed],
    }
    target = locate(given, strict=False)  # check's resolution: the same verdict on the same prefix
    broken = target.kind is DistributionKind.BROKEN
    selected = None if broken else target
    diagnosis = diagnose_load(target.shared_objects())
    if target.kind is DistributionKind.STATIC:
        static_findings, details["selected"] = _static_findings(target, expected)
        findings += static_findings
        selected = None  # judged without loading: loading means linking its archives
    elif selected is None:
        problem = target.problem or "not a distribution"
        findings += _unusable(problem, given, expected, diagnosis if target.has_files else None)
    chosen_by = "--dist" if given else (selected.origin if selected else None)
    env_findings, env_details = _env_findings(chosen_by)
    details.update(env_details)
    if selected is not None:
        selected_findings, details["selected"] = _selected_findings(selected, expected, installed)
        findings += selected_findings
    findings += env_findings
    findings += _conflict_findings(installed)
    owners = set(details.get("selected", {}).get("owners", ()))
    findings += _version_findings([d for d in installed if d.name not in owners], expected)
    return findings, details, selected, diagnosis

"""Write a bundle: copy, patch the copies' RUNPATH, describe, verify, rename into place.

The bundle gets its own CMake package (``finalize.cmakepkg``), pointing at its core library.
Everything is written to a temporary sibling of ``--out`` and renamed into place only after
verification, so ``--out`` holds either the previous content or a complete, verified bundle.
An existing ``--out`` is replaced only when it is provably an earlier bundle (exactly the files
its ``bundle.json`` records, with their hashes), judged at the start and again at the rename.
Inputs are only read; ``--out`` may not lie inside the source (or the source inside ``--out``),
and every copy is a new file in the temporary directory, so nothing outside ``--out`` is opened
for writing. Writing is deterministic: bundling the same inputs twice gives byte-identical
files (no timestamps; modes from the source within 0755/0644, less the umask; sorted listings).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..elf.policy import host_category
from ..elf.reader import read_elf
from ..elf.versions import FAMILIES, max_required
from ..errors import BundleError
from ..files import (
    check_apart,
    check_replaceable,
    copy_file,
    new_directory,
    sha256_file,
    write_json_atomic,
)
from ..finalize.cmakepkg import core_library, with_cmake_package
from ..manifest import MANIFEST_RELPATH, FileEntry, LinkMode, Manifest
from ..progress import Progress
from ..runtime.distribution import locate
from . import BUNDLE_JSON_RELPATH, LIB_DIR
from .links import core_links, make_links
from .patch import set_runpath
from .plan import Plan, plan_bundle, runpath_for
from .record import BundledLink, read_bundle_record
from .source import inspect_source
from .verify import Problem, verify_files

__all__ = ["BundleResult", "make_bundle", "verify_bundle"]

log = logging.getLogger(__name__)

SCHEMA = 1


@dataclass(frozen=True)
class BundleResult:
    """A written bundle."""

    root: Path
    variant: str
    version: str
    files: int
    total_bytes: int
    seconds: float
    symbol_versions: Mapping[str, str]  # highest required, over every bundled ELF file
    host_requirements: Mapping[str, str]  # the subset the host must provide (e.g. GLIBC)
    host_libraries: tuple[str, ...]
    left_out: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """For ``--json``."""
        return {
            "root": str(self.root),
            "variant": self.variant,
            "version": self.version,
            "files": self.files,
            "totalBytes": self.total_bytes,
            "seconds": round(self.seconds, 2),
            "symbolVersions": dict(self.symbol_versions),
            "hostRequirements": dict(self.host_requirements),
            "hostLibraries": list(self.host_libraries),
            "leftOut": list(self.left_out),
        }


def _not_a_bundle(out: Path) -> str | None:
    """Why ``out`` is not provably an earlier bundle (None when it is): its bundle.json must
    record every file it holds (plus bundle.json and manifest.json), each with its hash."""
    if not (out / BUNDLE_JSON_RELPATH).exists():
        return "exists, is not empty and is not a bundle"
    why = _unrecorded(out)
    return None if why is None else f"is not provably an earlier bundle: {why}"


def _unrecorded(out: Path) -> str | None:
    """The first thing in ``out`` its bundle.json does not account for (None: nothing)."""
    try:
        record = read_bundle_record(out)
    except (OSError, BundleError) as exc:
        return f"its {BUNDLE_JSON_RELPATH} is not a bundle's record ({exc})"
    recorded = {f.path: f.sha256 for f in record.files}
    links = {link.path: link.target for link in record.links}
    allowed = {*recorded, BUNDLE_JSON_RELPATH, MANIFEST_RELPATH.as_posix()}
    parents = {p.as_posix() for rel in (*allowed, *links) for p in Path(rel).parents}
    for path in out.rglob("*"):
        rel = path.relative_to(out).as_posix()
        if path.is_symlink():
            known = links.get(rel) == os.readlink(path)
        else:
            known = rel in (parents if path.is_dir() else allowed if path.is_file() else ())
        if not known:
            return f"{path} is not a file an earlier bundle wrote"
        if rel in recorded and sha256_file(path) != recorded[rel]:
            return f"{path} was changed since the bundle was written"
    return None


def _copy(plan: Plan, tmp: Path, quiet: bool) -> None:
    with Progress("bundle: copying", plan.total_bytes, unit="B", quiet=quiet) as progress:
        for f in plan.files:  # modes: the source's, at most 0755 (ELF) or 0644, less the umask
            copy_file(f.src, tmp / f.dest, cap=0o755 if f.elf else 0o644, advance=progress.advance)


def _symbol_versions(tmp: Path, elf_files: Iterable[str]) -> tuple[dict[str, str], dict[str, str]]:
    required = max_required(read_elf(tmp / rel) for rel in elf_files)
    from_host = {
        family: version
        for family, version in required.items()
        if host_category(FAMILIES[family]) is not None
    }
    return required, from_host


def _bundle_json(
    plan: Plan, hashes: Mapping[str, str], sizes: Mapping[str, int], runpaths: Mapping[str, str],
    versions: dict[str, str], host_versions: dict[str, str], links: Iterable[BundledLink],
) -> dict[str, Any]:  # fmt: skip
    src = plan.source
    copied = {f.dest for f in plan.files}
    written = [  # by bundle itself (the CMake package): recorded too, so a rerun may replace it
        {"path": rel, "sha256": hashes[rel], "size": sizes[rel], "why": ["written by bundle"]}
        for rel in sorted(hashes)
        if rel not in copied
    ]
    return {
        "schema": SCHEMA,
        "source": {"path": str(src.path), "kind": src.kind, "variant": src.variant},
        "version": src.version,
        "layout": {"lib": LIB_DIR, "python": src.python_path},
        "searchDirs": [str(d) for d in plan.search_dirs],
        "files": [
            {
                "path": f.dest,
                "sha256": hashes[f.dest],
                "size": sizes[f.dest],
                "from": str(f.src),
                "foundVia": f.found_via,
                "why": list(f.reasons),
                **({"runpath": runpaths[f.dest]} if f.dest in runpaths else {}),
            }
            for f in plan.files
        ]
        + written,
        "links": [link.to_json() for link in links],
        "host": [
            {
                "soname": h.soname,
                "category": h.category,
                "why": h.why,
                "hostPath": h.path,
                "neededBy": list(h.needed_by),
            }
            for h in plan.host
        ],
        "leftOut": list(src.left_out),
        "pythonRequires": list(src.requires),
        "symbolVersions": versions,
        "hostRequirements": host_versions,
        "totalBytes": sum(sizes.values()),
    }


def _manifest(plan: Plan, hashes: Mapping[str, str], host_versions: dict[str, str]) -> Manifest:
    src = plan.source
    return Manifest(
        version=src.version,
        variant=src.variant,
        link_mode=LinkMode.SHARED,
        providers=src.providers,
        files=tuple(FileEntry(f.dest, f.kind, hashes[f.dest], f.role) for f in plan.files),
        link_flags=src.link_flags,
        runtime_loaded=src.runtime_loaded,
        preload=src.preload,
        python_path=src.python_path,
        include_dir=src.include_dir,
        extra={
            "bundle": {
                "bundleJson": BUNDLE_JSON_RELPATH,
                "sourceKind": src.kind,
                "libDir": LIB_DIR,
                "hostRequirements": host_versions,
            }
        },
    )


def _problems_error(root: Path, problems: tuple[Problem, ...]) -> BundleError:
    lines = "\n".join(f"  {p.describe()}" for p in problems)
    return BundleError(
        f"bundle verification failed for {root}: {len(problems)} NEEDED entries do not resolve "
        f"inside the bundle or to an allowed host library:\n{lines}"
    )


def verify_bundle(root: Path | str) -> tuple[Problem, ...]:
    """Problems of an existing bundle (from its bundle.json); () when every NEEDED resolves."""
    root = Path(root)
    try:
        files = read_bundle_record(root).files
    except FileNotFoundError:
        raise BundleError(f"{root} is not a bundle: {BUNDLE_JSON_RELPATH} is missing") from None
    elf = [f.path for f in files if (root / f.path).is_file() and f.runpath is not None]
    missing = [f.path for f in files if not (root / f.path).exists()]
    problems = [Problem(rel, Path(rel).name, ("bundle.json",), None) for rel in missing]
    return (*problems, *verify_files(root, elf))


def make_bundle(
    src: Path | str,
    out: Path | str,
    *,
    search_dirs: Iterable[Path | str] = (),
    providers: Iterable[str] | None = None,
    ld_library_path: str | None = None,
    runpath_prefix: Sequence[str] = (),
    quiet: bool = False,
) -> BundleResult:
    """Bundle distribution ``src`` into directory ``out`` (see the module docstring).

    ``providers`` limits the runtime-loaded providers bundled (default: all the source has).
    ``runpath_prefix``: directories put first in every bundled ELF file's RUNPATH (the GPU
    driver's, /run/opengl-driver/lib on NixOS), so that no step after this one edits the files
    the manifest records.
    Raises BundleError, with nothing written to ``out``, for bad input, libraries that cannot
    be found, or a bundle that fails verification.
    """
    start = time.monotonic()
    out = Path(out).expanduser().absolute()
    check_replaceable(out, BundleError, _not_a_bundle)
    source = inspect_source(locate(src, strict=False), providers)
    check_apart(out, (source.path,), BundleError)
    plan = plan_bundle(source, search_dirs, ld_library_path=ld_library_path)
    with new_directory(out, BundleError, _not_a_bundle) as tmp:
        _copy(plan, tmp, quiet)
        runpaths = {
            f.dest: ":".join([*runpath_prefix, runpath_for(f.dest)]) for f in plan.files if f.elf
        }
        patched = sum(set_runpath(tmp / rel, rp) for rel, rp in runpaths.items())
        log.info("patched the RUNPATH of %d of %d ELF files", patched, len(runpaths))
        hashes = {f.dest: sha256_file(tmp / f.dest) for f in plan.files}
        sizes = {f.dest: (tmp / f.dest).stat().st_size for f in plan.files}
        versions, host_versions = _symbol_versions(tmp, runpaths)
        manifest = with_cmake_package(_manifest(plan, hashes, host_versions), tmp.joinpath)
        for entry in manifest.files:  # the CMake package is written anew, for the bundle
            hashes[entry.path], sizes[entry.path] = entry.sha256, (tmp / entry.path).stat().st_size
        links = core_links(tmp, core_library(manifest.files), hashes)
        make_links(tmp, links)
        write_json_atomic(
            tmp / BUNDLE_JSON_RELPATH,
            _bundle_json(plan, hashes, sizes, runpaths, versions, host_versions, links),
        )
        manifest.write(tmp)
        problems = verify_files(tmp, runpaths)
        if problems:
            raise _problems_error(out, problems)
    assert (out / MANIFEST_RELPATH).exists()
    return BundleResult(
        root=out,
        variant=source.variant,
        version=source.version,
        files=len(plan.files),
        total_bytes=sum(sizes.values()),
        seconds=time.monotonic() - start,
        symbol_versions=versions,
        host_requirements=host_versions,
        host_libraries=tuple(h.soname for h in plan.host),
        left_out=source.left_out,
    )

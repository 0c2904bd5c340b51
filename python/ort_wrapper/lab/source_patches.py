"""Applying a patch series "where it applies": each patch is dry-run first, and one whose
context differs from this source is skipped and recorded with the reason. A patch applies only
exactly (``--fuzz=0``), as the Nix derivation's prePatch check (pkgs/check-patches.sh) requires:
the lab never applies at a place patch(1) had to guess."""

from __future__ import annotations

import logging
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import BuildError
from ..files import sha256_file

__all__ = ["APPLIED", "SKIPPED", "PatchStatus", "apply_series", "dry_run", "patch_files"]

log = logging.getLogger(__name__)

APPLIED, APPLIES, SKIPPED = "applied", "applies", "skipped-context-differs"


@dataclass(frozen=True)
class PatchStatus:
    """What happened to one patch against one source tree."""

    patch: str  # file name under patches/
    sha256: str
    status: str  # APPLIED, APPLIES (dry run only) or SKIPPED
    reason: str = ""  # patch(1)'s own words when it does not apply

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def patch_files(patches_dir: Path, names: tuple[str, ...]) -> tuple[Path, ...]:
    """The series ``names`` as files under ``patches_dir``; BuildError names a missing one."""
    files = []
    for name in names:
        path = patches_dir / name
        if not path.is_file():
            raise BuildError(f"patch {name!r} of the series is not in {patches_dir}")
        files.append(path)
    return tuple(files)


def _patch(source: Path, patch: Path, *, dry: bool) -> subprocess.CompletedProcess[str]:
    argv = ["patch", "-p1", "--batch", "--forward", "--fuzz=0", "-d", str(source), "-i", str(patch)]
    try:
        return subprocess.run(
            [*argv, "--dry-run"] if dry else argv, capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise BuildError("patch(1) is not installed") from None


def dry_run(source: Path, patch: Path) -> PatchStatus:
    """Whether ``patch`` applies to the tree ``source``, without changing it."""
    done = _patch(source, patch, dry=True)
    digest = sha256_file(patch)
    if done.returncode == 0:
        return PatchStatus(patch.name, digest, APPLIES)
    reason = " ".join((done.stdout + done.stderr).split())
    return PatchStatus(patch.name, digest, SKIPPED, reason[:500])


def apply_series(source: Path, patches: tuple[Path, ...]) -> tuple[PatchStatus, ...]:
    """Apply each patch that applies cleanly, in order; record the others as skipped."""
    results = []
    for patch in patches:
        status = dry_run(source, patch)
        if status.status == APPLIES:
            done = _patch(source, patch, dry=False)
            if done.returncode:
                raise BuildError(f"{patch.name} passed its dry run but failed: {done.stdout}")
            status = PatchStatus(patch.name, status.sha256, APPLIED)
        else:
            log.warning("%s does not apply here: %s", patch.name, status.reason)
        results.append(status)
    return tuple(results)

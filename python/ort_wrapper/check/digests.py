"""The manifest's sha256 values against the files: a distribution whose files changed after
its manifest was written (stripped, patched, replaced) fails here, file by file."""

from __future__ import annotations

from ..files import sha256_file
from ..report import FAIL, PASS, Check
from ..runtime.distribution import Distribution

__all__ = ["digest_check"]

_SHOWN = 5


def digest_check(target: Distribution) -> Check | None:
    """A check comparing each listed file's sha256 with the manifest's; None without a
    manifest. Missing files are the "manifest files" check's concern and are skipped here."""
    if target.manifest is None or target.root is None:
        return None
    changed: list[str] = []
    checked = 0
    for entry in target.manifest.files:
        path = target.root / entry.path
        if not path.is_file():
            continue
        checked += 1
        try:
            actual = sha256_file(path)
        except OSError as exc:
            changed.append(f"{entry.path} (unreadable: {exc.strerror})")
            continue
        if actual != entry.sha256:
            changed.append(entry.path)
    if changed:
        shown = ", ".join(changed[:_SHOWN]) + (
            f" and {len(changed) - _SHOWN} more" if len(changed) > _SHOWN else ""
        )
        return Check(
            "manifest sha256",
            FAIL,
            f"{len(changed)} of {checked} files differ from the manifest's sha256: {shown} "
            "(changed after the manifest was written: rerun finalize after the last step that "
            "edits the files)",
            {"changed": changed},
        )
    return Check("manifest sha256", PASS, f"all {checked} present files match the manifest")

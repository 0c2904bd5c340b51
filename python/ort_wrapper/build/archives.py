"""ONNX Runtime's component archives: found by glob, merged into one ``libonnxruntime.a``
with an MRI script run by ``ar -M``, given a symbol index and checked member by member."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from ..elf.archive import member_digests, read_archive
from ..errors import BuildError

__all__ = [
    "COMPONENT_GLOB",
    "MERGED_NAME",
    "check_merged",
    "component_archives",
    "merge_archives",
    "mri_script",
]

log = logging.getLogger(__name__)

COMPONENT_GLOB = "libonnxruntime_*.a"
MERGED_NAME = "libonnxruntime.a"


def component_archives(prefix: Path, build_dir: Path) -> tuple[Path, ...]:
    """``libonnxruntime_*.a`` of the install's ``lib/`` and the build tree's top level.

    An archive installed under ``lib/`` wins over the build tree's copy of the same name.
    Sorted by name, so the merge is reproducible.
    """
    found: dict[str, Path] = {}
    for folder in (prefix / "lib", build_dir):
        for path in sorted(folder.glob(COMPONENT_GLOB)):
            found.setdefault(path.name, path)
    if not found:
        raise BuildError(
            f"no {COMPONENT_GLOB} in {prefix / 'lib'} or {build_dir}: "
            "is this the build tree of a static ONNX Runtime?"
        )
    return tuple(found[name] for name in sorted(found))


def mri_script(output: str, inputs: Sequence[str]) -> str:
    """An ``ar -M`` script creating ``output`` from all members of ``inputs``."""
    return "".join([f"CREATE {output}\n", *(f"ADDLIB {name}\n" for name in inputs), "SAVE\nEND\n"])


def _tool(name: str) -> str:
    path = shutil.which(os.environ.get(name.upper(), name))
    if path is None:
        raise BuildError(f"{name} is not installed (binutils)")
    return path


def merge_archives(inputs: Sequence[Path], output: Path) -> None:
    """Merge ``inputs`` into ``output`` with ``ar -M``, index it with ``ranlib -D``, check it.

    The script names short symlinks in a scratch folder, because MRI scripts cannot quote
    paths (a ``+`` or a space would break them).
    """
    with tempfile.TemporaryDirectory(prefix="ort-merge-") as tmp:
        names = []
        for i, path in enumerate(inputs):
            link = Path(tmp, f"in{i}.a")
            link.symlink_to(path.resolve())
            names.append(link.name)
        script = mri_script("merged.a", names)
        done = subprocess.run(
            [_tool("ar"), "-M"], input=script, cwd=tmp, capture_output=True, text=True
        )
        if done.returncode:
            raise BuildError(f"ar -M failed merging {len(inputs)} archives: {done.stderr.strip()}")
        done = subprocess.run(
            [_tool("ranlib"), "-D", "merged.a"], cwd=tmp, capture_output=True, text=True
        )
        if done.returncode:
            raise BuildError(f"ranlib failed on the merged archive: {done.stderr.strip()}")
        check_merged(Path(tmp, "merged.a"), inputs)
        shutil.move(Path(tmp, "merged.a"), output)


def check_merged(merged: Path, inputs: Sequence[Path]) -> None:
    """BuildError unless ``merged`` has a symbol index and exactly the members of ``inputs``
    (same names and bytes, duplicates included)."""
    info = read_archive(merged)
    if not info.has_index:
        raise BuildError(f"{merged} has no symbol index")
    want: Counter[tuple[str, str]] = Counter()
    for path in inputs:
        want.update(member_digests(read_archive(path)))
    got = Counter(member_digests(info))
    if got != want:
        missing = sorted(name for name, _ in (want - got))[:5]
        extra = sorted(name for name, _ in (got - want))[:5]
        raise BuildError(
            f"{merged} does not hold exactly its inputs' members "
            f"(missing: {missing or 'none'}; unexpected: {extra or 'none'})"
        )
    log.info("merged %d archives into %s: %d members", len(inputs), merged, len(info.members))

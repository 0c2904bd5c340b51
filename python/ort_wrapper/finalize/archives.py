"""ONNX Runtime's component archives: found by glob, merged into one ``libonnxruntime.a``
(GNU archives with an MRI script run by ``ar -M``; darwin's with ``llvm-ar``, ``darwin``),
given a symbol index and checked member by member."""

from __future__ import annotations

import logging
import subprocess
import tempfile
from collections import Counter
from collections.abc import Collection, Sequence
from pathlib import Path

from ..elf.archive import (
    ObjectFormat,
    archive_format,
    iter_members,
    member_digests,
    read_archive,
)
from ..errors import BuildError
from ..files import find_tool, publish
from .candidates import COMPONENT_GLOB

__all__ = [
    "MERGED_NAME",
    "check_merged",
    "component_archives",
    "merge_archives",
    "mri_script",
    "rebuild_archive",
]

log = logging.getLogger(__name__)

MERGED_NAME = "libonnxruntime.a"


def component_archives(prefix: Path, build_dir: Path) -> tuple[Path, ...]:
    """``libonnxruntime_*.a`` of the install's ``lib/`` and the build tree's top level, sorted
    by name, so the merge is reproducible; an archive installed under ``lib/`` wins over the
    build tree's copy of the same name. BuildError when there is none."""
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
    """``ar``/``ranlib``, or what ``$AR``/``$RANLIB`` name (as a Nix stdenv sets them)."""
    return find_tool(name, env=name.upper(), error=BuildError, hint="install binutils")


def _names(inputs: Sequence[Path]) -> str:
    shown = ", ".join(p.name for p in inputs[:6])
    return shown + (f" and {len(inputs) - 6} more" if len(inputs) > 6 else "")


def merge_archives(inputs: Sequence[Path], output: Path) -> None:
    """Merge ``inputs`` into ``output`` with ``ar -M`` and index it with ``ranlib -D`` (for
    Mach-O members: ``llvm-ar``, which indexes as it writes), check it.

    The work happens in a scratch folder next to ``output`` (same file system: the result is
    renamed into place, not copied). The script names short symlinks there, because MRI
    scripts cannot quote paths (a ``+`` or a space would break them).
    """
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".ort-merge-", dir=output.parent) as tmp:
        names = []
        for i, path in enumerate(inputs):
            link = Path(tmp, f"in{i}.a")
            link.symlink_to(path.resolve())
            names.append(link.name)
        what = f"merging {len(inputs)} archives ({_names(inputs)})"
        if _format_of(inputs) is ObjectFormat.MACHO:
            from .darwin import llvm_ar_merge

            llvm_ar_merge(names, "merged.a", Path(tmp), what)
        else:
            _gnu_merge(names, Path(tmp), what)
        check_merged(
            Path(tmp, "merged.a"), inputs, label=f"the archive merged from {_names(inputs)}"
        )
        publish(Path(tmp, "merged.a"), output, BuildError)


def _format_of(inputs: Sequence[Path]) -> ObjectFormat:
    """The object format of the first input that has members (ELF when none has)."""
    for path in inputs:
        info = read_archive(path)
        if info.members:
            return archive_format(info)
    return ObjectFormat.ELF


def _gnu_merge(names: Sequence[str], cwd: Path, what: str) -> None:
    done = subprocess.run(
        [_tool("ar"), "-M"],
        input=mri_script("merged.a", names),
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise BuildError(f"ar -M failed {what}: {done.stderr.strip()}")
    done = subprocess.run(
        [_tool("ranlib"), "-D", "merged.a"], cwd=cwd, capture_output=True, text=True
    )
    if done.returncode:
        raise BuildError(f"ranlib failed {what}: {done.stderr.strip()}")


def check_merged(merged: Path, inputs: Sequence[Path], *, label: str | None = None) -> None:
    """BuildError unless ``merged`` has a symbol index and exactly the members of ``inputs``
    (same names and bytes, duplicates included). ``label`` names ``merged`` in the message
    (by default its path)."""
    label = label or str(merged)
    info = read_archive(merged)
    if not info.has_index:
        raise BuildError(f"{label} has no symbol index")
    want: Counter[tuple[str, str]] = Counter()
    for path in inputs:
        want.update(member_digests(read_archive(path)))
    got = Counter(member_digests(info))
    if got != want:
        missing = sorted(name for name, _ in (want - got))[:5]
        extra = sorted(name for name, _ in (got - want))[:5]
        raise BuildError(
            f"{label} does not hold exactly its inputs' members "
            f"(missing: {missing or 'none'}; unexpected: {extra or 'none'})"
        )
    log.info("merged %d archives into %s: %d members", len(inputs), merged, len(info.members))


def _write_objects(objects: Sequence[Path], output: Path, fmt: ObjectFormat) -> None:
    """An indexed archive of ``objects``, in order (names may repeat: ``q`` appends)."""
    if fmt is ObjectFormat.MACHO:
        tool = find_tool("llvm-ar", env="LLVM_AR", error=BuildError, hint="install LLVM")
        steps = [[tool, "qcs", "--format=darwin", str(output), *map(str, objects)]]
    else:
        steps = [[_tool("ar"), "qcD", str(output), *map(str, objects)],
                 [_tool("ranlib"), "-D", str(output)]]  # fmt: skip
    for argv in steps:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode:
            raise BuildError(f"{Path(argv[0]).name} failed writing {output}: {done.stderr.strip()}")


def rebuild_archive(output: Path, sources: Sequence[tuple[Path, Collection[int] | None]]) -> int:
    """Write ``output`` anew from ``sources``: each an archive and the indices of the members to
    take from it (None: all), in order, bytes unchanged, indexed and checked like a merge.
    ``output`` may be one of the sources. Returns how many members were left out."""
    infos = [read_archive(archive) for archive, _ in sources]
    fmt = next((archive_format(i) for i in infos if i.members), ObjectFormat.ELF)
    left_out = 0
    with tempfile.TemporaryDirectory(prefix=".ort-rebuild-", dir=output.parent) as tmp:
        objects: list[Path] = []
        want: list[tuple[str, str]] = []
        for n, (info, (_, keep)) in enumerate(zip(infos, sources, strict=True)):
            digests = member_digests(info)
            for index, (member, data) in enumerate(iter_members(info)):
                if keep is not None and index not in keep:
                    left_out += 1
                    continue
                name = Path(member.name).name
                path = Path(
                    tmp, f"{n}.{index}", name if name not in ("", ".", "..") else "member.o"
                )
                path.parent.mkdir()
                path.write_bytes(data)
                objects.append(path)
                want.append(digests[index])
        rebuilt = Path(tmp, "rebuilt.a")
        _write_objects(objects, rebuilt, fmt)
        info = read_archive(rebuilt)
        if member_digests(info) != want or not info.has_index:
            raise BuildError(f"{output}: the archive rebuilt from {len(want)} members is wrong")
        publish(rebuilt, output, BuildError)
    return left_out

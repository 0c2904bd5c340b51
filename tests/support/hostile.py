"""Helpers for hostile-input tests: snapshots of a whole tree (to prove nothing outside the named
output was written and no input changed), small hostile distributions, and the CLI in a fresh
process (``helpers.cli``, to prove the answer is a typed error, not a traceback)."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

from helpers import cli, python_env
from support.prefixes import make_prefix

__all__ = [
    "NO_DAC_OVERRIDE",
    "assert_refused",
    "changed",
    "cli",
    "limit_memory",
    "python_env",
    "replace_manifest",
    "running_below",
    "small_prefix",
    "snapshot",
]

# Root reads every file; without these capabilities it gets EACCES like any other user.
NO_DAC_OVERRIDE = (
    ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]
    if os.geteuid() == 0
    else []
)


def snapshot(root: Path) -> dict[str, tuple[Any, ...]]:
    """Every entry under ``root`` (itself included): kind, mode, and the content hash and mtime
    of a file or the target of a symlink. Directory mtimes are left out (an output appearing
    next to them changes those)."""
    found: dict[str, tuple[Any, ...]] = {}
    for base, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(base, name)
            info = path.lstat()
            rel = path.relative_to(root).as_posix()
            if stat.S_ISLNK(info.st_mode):
                found[rel] = ("link", os.readlink(path))
            elif stat.S_ISREG(info.st_mode):
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                found[rel] = ("file", info.st_mode, digest, info.st_mtime_ns)
            else:
                found[rel] = ("other", info.st_mode)
    return found


def changed(
    before: dict[str, tuple[Any, ...]], after: dict[str, tuple[Any, ...]], *outputs: str
) -> list[str]:
    """Paths that appeared, disappeared or changed, except under the named ``outputs``."""
    keys = set(before) | set(after)
    return sorted(
        k
        for k in keys
        if before.get(k) != after.get(k)
        and not any(k == o or k.startswith(f"{o}/") for o in outputs)
    )


def small_prefix(root: Path, files: list[dict[str, Any]] | None = None, **fields: Any) -> Path:
    """A tiny prefix (``support.prefixes.make_prefix``): one real small shared library
    ``lib/libonnxruntime.so.1`` and a manifest listing it, plus ``files`` entries (written as
    given: hostile ones too) and any other manifest ``fields``."""
    return make_prefix(root, files=files, **{"variant": "hostile", **fields})


def replace_manifest(prefix: Path, hostile: str) -> Path:
    """Make ``prefix``'s manifest hostile: ``deep`` (nested 50,000 levels), ``fifo`` (a named
    pipe: a blocking reader hangs) or ``device`` (a symlink to /dev/zero: an unbounded reader
    exhausts memory). Returns its path."""
    manifest = prefix / "share/ort-wrapper/manifest.json"
    manifest.unlink()
    if hostile == "deep":
        manifest.write_text('{"a":' * 50_000 + "1" + "}" * 50_000)
    elif hostile == "fifo":
        os.mkfifo(manifest)
    else:
        manifest.symlink_to("/dev/zero")
    return manifest


def limit_memory() -> None:
    """For ``preexec_fn``: 4 GiB of address space, so a reader that reads /dev/zero to the end
    fails fast in the child instead of taking the machine's memory."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))


def assert_refused(proc: subprocess.CompletedProcess[str], *names: str) -> None:
    """A failed command that says why in one typed error naming each of ``names``."""
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "Traceback" not in output, output
    for name in names:
        assert name in output, (name, output)


def _ppid(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("PPid:")).split()[1])


def running_below(ancestor: int, needle: str) -> list[int]:
    """The processes below ``ancestor`` whose command line holds ``needle``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit() or needle.encode() not in (entry / "cmdline").read_bytes():
                continue
            pid = int(entry.name)
            while pid > 1 and pid != ancestor:
                pid = _ppid(pid)
        except OSError:  # it ended meanwhile
            continue
        if pid == ancestor:
            found.append(int(entry.name))
    return found

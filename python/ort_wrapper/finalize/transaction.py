"""All-or-nothing changes to a directory tree: files are prepared in a scratch folder, then
moved in; if anything fails before or during the move, the tree is left as it was. One
transaction at a time per tree: a second waits for the first."""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import tempfile
from pathlib import Path
from types import TracebackType

from ..files import sha256_file

__all__ = ["LOCK_NAME", "SCRATCH_PREFIX", "Transaction"]

log = logging.getLogger(__name__)

SCRATCH_PREFIX = ".ort-wrapper-"  # scratch folders at the tree's top; never part of it
LOCK_NAME = ".ort-wrapper.lock"  # exists only while a transaction runs
_OURS = ".ort-wrapper"  # what final_files leaves out at the top: scratch folders, the lock


def _lock(path: Path) -> int:
    """An exclusive flock on ``path`` (created); returns the descriptor. Retried when the
    file was unlinked by the previous holder while this one waited for it."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            held = os.fstat(fd)
            try:
                now = os.stat(path)
            except FileNotFoundError:
                now = None
        except BaseException:
            os.close(fd)
            raise
        if now is not None and (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino):
            return fd
        os.close(fd)


class Transaction:
    """Stage new files and removals under ``root``; ``commit`` applies them.

    Used as a context manager, which holds an exclusive ``flock`` on ``root/.ort-wrapper.lock``
    from entry to exit (and removes the file then), so concurrent transactions on one tree run
    one after the other. On entry, scratch folders that killed runs left behind are removed.
    Leaving the block with an exception discards everything staged (and undoes a commit that
    failed half-way). A staged file identical to the one in place is left alone, so
    repeating the same change touches nothing.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.scratch = root / f"{SCRATCH_PREFIX}unopened"
        self._lock: int | None = None
        self._writes: dict[str, Path] = {}
        self._removals: set[str] = set()
        self._digests: dict[tuple[str, int, int], str] = {}

    def __enter__(self) -> Transaction:
        fd = _lock(self.root / LOCK_NAME)
        try:
            for stale in self.root.glob(f"{SCRATCH_PREFIX}*"):
                log.info("removing %s, left by an earlier run", stale)
                if stale.is_dir() and not stale.is_symlink():
                    shutil.rmtree(stale, ignore_errors=True)
                else:
                    stale.unlink(missing_ok=True)
            self.scratch = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=self.root))
        except BaseException:
            self._release(fd)
            raise
        self._lock = fd
        return self

    def _release(self, fd: int) -> None:
        (self.root / LOCK_NAME).unlink(missing_ok=True)  # while still holding it
        os.close(fd)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            shutil.rmtree(self.scratch, ignore_errors=True)
        finally:
            if self._lock is not None:
                self._release(self._lock)
                self._lock = None

    def sha256(self, path: Path) -> str:
        """``sha256_file(path)``, computed once per file version (large archives are read
        by several steps)."""
        st = path.stat()
        key = (str(path), st.st_size, st.st_mtime_ns)
        if key not in self._digests:
            self._digests[key] = sha256_file(path)
        return self._digests[key]

    def path_for(self, relpath: str) -> Path:
        """A scratch path where the new content of ``relpath`` is to be written."""
        path = self.scratch / "new" / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        self._writes[relpath] = path
        return path

    def remove(self, relpath: str) -> None:
        """Remove ``relpath`` (a file) at commit."""
        self._removals.add(relpath)

    def final_files(self) -> dict[str, Path]:
        """Every regular file the tree will hold after the commit (relpath -> current path),
        leaving out symlinks and scratch folders."""
        files = {}
        for dirpath, dirnames, filenames in os.walk(self.root):
            here = Path(dirpath)
            if here == self.root:
                dirnames[:] = [d for d in dirnames if not d.startswith(_OURS)]
                filenames = [f for f in filenames if not f.startswith(_OURS)]
            for name in filenames:
                path = here / name
                rel = str(path.relative_to(self.root))
                if not path.is_symlink() and rel not in self._removals:
                    files[rel] = path
        return {**files, **self._writes}

    def commit(self) -> list[str]:
        """Move the staged files in and do the removals; returns the paths that changed."""
        backup = self.scratch / "old"
        done: list[tuple[str, bool]] = []  # (relpath, had an old version)
        made: list[Path] = []  # folders the commit created
        try:
            for rel, new in sorted(self._writes.items()):
                target = self.root / rel
                if target.is_file() and self.sha256(target) == self.sha256(new):
                    continue
                had = target.exists()
                if had:
                    (backup / rel).parent.mkdir(parents=True, exist_ok=True)
                    os.replace(target, backup / rel)
                done.append((rel, had))
                missing = [p for p in (target.parent, *target.parent.parents) if not p.exists()]
                target.parent.mkdir(parents=True, exist_ok=True)
                made += reversed(missing)
                os.replace(new, target)
            for rel in sorted(self._removals):
                target = self.root / rel
                if target.exists():
                    (backup / rel).parent.mkdir(parents=True, exist_ok=True)
                    os.replace(target, backup / rel)
                    done.append((rel, True))
        except BaseException:
            for rel, had in reversed(done):
                (self.root / rel).unlink(missing_ok=True)
                if had:
                    os.replace(backup / rel, self.root / rel)
            for folder in reversed(made):
                folder.rmdir()
            raise
        return [rel for rel, _ in done]

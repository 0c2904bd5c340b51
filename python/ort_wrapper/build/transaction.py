"""All-or-nothing changes to a directory tree: files are prepared in a scratch folder, then
moved in; if anything fails before or during the move, the tree is left as it was."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from types import TracebackType

from ..manifest import sha256_file

__all__ = ["Transaction"]

log = logging.getLogger(__name__)


class Transaction:
    """Stage new files and removals under ``root``; ``commit`` applies them.

    Used as a context manager: leaving the block with an exception discards everything
    staged (and undoes a commit that failed half-way). A staged file identical to the one in
    place is left alone, so repeating the same change touches nothing.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.scratch = Path(tempfile.mkdtemp(prefix=".ort-wrapper-", dir=root))
        self._writes: dict[str, Path] = {}
        self._removals: set[str] = set()

    def __enter__(self) -> Transaction:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)

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
        leaving out symlinks and the scratch folder."""
        files = {}
        for dirpath, dirnames, filenames in os.walk(self.root):
            here = Path(dirpath)
            if here == self.root:
                dirnames[:] = [d for d in dirnames if here / d != self.scratch]
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
                if target.is_file() and sha256_file(target) == sha256_file(new):
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

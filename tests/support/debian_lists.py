"""Debian's package lists (Packages and Contents) of one suite, fetched and verified by apt
itself into a private state directory under ``cache_root()/debian-lists/<suite>`` (the host's
apt state is never touched), and queried with apt's own tools.

When the mirror cannot be reached, the lists of an earlier run are used (said loudly); with
none, the caller's test is skipped loudly.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

from ort_wrapper.files import cache_root
from ort_wrapper.lab.source import mirror

__all__ = ["DebianLists", "debian_lists"]

KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
# apt fetches Contents only when an index target asks for it (what apt-file configures).
_CONTENTS_TARGET = """Acquire::IndexTargets::deb::Contents-deb {
    MetaKey "$(COMPONENT)/Contents-$(ARCHITECTURE)";
    ShortDescription "Contents-$(ARCHITECTURE)";
    Description "$(RELEASE)/$(COMPONENT) $(ARCHITECTURE) Contents (deb)";
    KeepCompressed "true";
};
"""


@dataclass(frozen=True)
class DebianLists:
    """A suite's lists in a private apt state directory."""

    root: Path
    suite: str

    def _options(self) -> list[str]:
        return [
            "-o", f"Dir::State::Lists={self.root / 'lists'}",
            "-o", f"Dir::Cache={self.root / 'cache'}",
            "-o", f"Dir::Etc::SourceList={self.root / 'sources.list'}",
            "-o", f"Dir::Etc::SourceParts={self.root / 'empty'}",
            "-o", f"Dir::Etc::Parts={self.root / 'empty'}",
            "-o", "Dir::State::status=/dev/null",
            "-o", "APT::Architectures::=amd64",
            "-o", "APT::Sandbox::User=root",
            "-o", "Debug::NoLocking=1",
        ]  # fmt: skip

    def _env(self) -> dict[str, str]:
        return {"APT_CONFIG": str(self.root / "apt.conf"), "PATH": "/usr/bin:/bin"}

    def owners(self, names: Iterable[str]) -> dict[str, set[str]]:
        """File name -> the packages whose Contents list a file of that name."""
        wanted = set(names)
        found: dict[str, set[str]] = {name: set() for name in wanted}
        for path in sorted((self.root / "lists").glob("*_Contents-*")):
            text = subprocess.run(
                ["/usr/lib/apt/apt-helper", "cat-file", str(path)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            for line in text.splitlines():
                file, _, packages = line.rpartition(" ")
                name = file.strip().rsplit("/", 1)[-1]
                if name in wanted:
                    found[name].update(p.rsplit("/", 1)[-1] for p in packages.split(","))
        return found

    def installs(self, package: str) -> set[str]:
        """What ``apt install package`` brings in by default: the package and its Depends,
        PreDepends and Recommends, recursively (empty when the package is unknown)."""
        done = subprocess.run(
            ["apt-cache", *self._options(), "depends", "--recurse", "--no-suggests",
             "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances", package],
            capture_output=True, text=True, env=self._env(), check=False,
        )  # fmt: skip
        if done.returncode:
            return set()
        return {line for line in done.stdout.splitlines() if line and line[0] not in " <"}


def debian_lists(suite: str, components: tuple[str, ...]) -> DebianLists:
    """``suite``'s lists of ``components`` (amd64), brought up to date by ``apt-get update``."""
    if shutil.which("apt-get") is None or not KEYRING.is_file():
        pytest.skip(f"!!! SKIPPED: apt or {KEYRING} is missing: cannot read Debian's lists !!!")
    root = cache_root() / "debian-lists" / suite
    lists = DebianLists(root, suite)
    for folder in ("lists/partial", "cache/archives/partial", "empty"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "apt.conf").write_text(_CONTENTS_TARGET)
    (root / "sources.list").write_text(
        f"deb [signed-by={KEYRING} arch=amd64] {mirror()} {suite} {' '.join(components)}\n"
    )
    done = subprocess.run(
        ["apt-get", "-q", *lists._options(), "update"],
        capture_output=True,
        text=True,
        env=lists._env(),
        check=False,
    )
    failed = done.returncode != 0 or "\nE: " in f"\n{done.stdout}{done.stderr}"
    if failed:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        if not list((root / "lists").glob("*_Contents-*")):
            pytest.skip(f"!!! SKIPPED: apt-get update of Debian {suite} failed: {tail} !!!")
        print(
            f"\n*** Debian {suite}: update failed ({tail}); using the cached lists\n",
            file=sys.stderr,
        )
    return lists

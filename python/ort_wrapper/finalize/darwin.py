"""darwin's side of a static link: merging BSD-format archives of Mach-O objects with
``llvm-ar`` (GNU ``ar -M`` scripts do not exist there), and link flags Apple's ``ld`` (ld64)
accepts: every archive by its full path (ld64 has no ``-l:NAME.a``), no
``--start-group``/``--end-group`` (ld64 searches all archives until nothing new resolves, so
order and cycles do not matter), shared libraries as ``-lNAME``, and the system flags from
``dependencies.json``'s ``machO`` entry (libc++, and the frameworks a provider needs)."""

from __future__ import annotations

import subprocess
from collections.abc import Collection, Sequence
from pathlib import Path

from ..errors import BuildError
from ..files import find_tool
from ..manifest import FRAMEWORK
from .candidates import dependency_policy

__all__ = ["DEFAULT_DIRS", "llvm_ar_merge", "system_flags"]

# Folders ld64 searches for -lNAME without a -L.
DEFAULT_DIRS = frozenset(("/usr/lib", "/usr/local/lib"))


def llvm_ar_merge(inputs: Sequence[str], output: str, cwd: Path, what: str) -> None:
    """Write ``output`` (in ``cwd``) holding every member of ``inputs``, in order, duplicates
    kept, with a symbol index: ``llvm-ar qcsL --format=darwin`` (``L`` adds an archive's
    members; ``q`` appends without replacing members of the same name)."""
    tool = find_tool("llvm-ar", env="LLVM_AR", error=BuildError, hint="install LLVM (llvm-ar)")
    done = subprocess.run(
        [tool, "qcsL", "--format=darwin", output, *inputs],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise BuildError(f"llvm-ar failed {what}: {done.stderr.strip()}")


def system_flags(providers: Collection[str]) -> list[str]:
    """What every darwin consumer of a static ORT links besides the archives: libc++, and
    ``-framework NAME`` for each framework one of ``providers`` uses."""
    policy = dependency_policy()["machO"]
    flags = list(policy["system"])
    for provider in providers:
        for framework in policy["frameworks"].get(provider, ()):
            if framework not in flags:
                flags += [FRAMEWORK, framework]
    return flags

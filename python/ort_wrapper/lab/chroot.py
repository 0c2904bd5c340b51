"""A Debian chroot made with debootstrap, and commands run inside it.

Commands run under ``unshare --mount`` so the /dev and /proc mounts they need vanish with the
process: nothing is left mounted in the cache, even when a build is killed.
"""

from __future__ import annotations

import hashlib
import logging
import shlex
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import BuildError, LabEnvironmentError
from .source import mirror

__all__ = ["PACKAGES", "Chroot", "ensure_chroot", "install_command"]

log = logging.getLogger(__name__)

# The -dev packages ORT's CMake finds instead of downloading, and the build tools.
PACKAGES = (
    "ccache",
    "cmake",
    "ninja-build",
    "g++",
    "patch",
    "python3",
    "libabsl-dev",
    "libboost-dev",
    "libcpuinfo-dev",
    "libdlpack-dev",
    "libeigen3-dev",
    "libflatbuffers-dev",
    "libhowardhinnant-date-dev",
    "libmsgsl-dev",
    "libonnx-dev",
    "libprotobuf-dev",
    "protobuf-compiler",
    "libre2-dev",
    "libsafeint-dev",
    "nlohmann-json3-dev",
    "zlib1g-dev",
)
_READY = ".ort-builder-ready"
_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class Chroot:
    """A prepared chroot at ``root``."""

    root: Path

    def host_path(self, inside: str) -> Path:
        """The host path of a path inside the chroot."""
        return self.root / inside.lstrip("/")

    def run(
        self,
        argv: Sequence[str],
        *,
        cwd: str = "/",
        env: Mapping[str, str] | None = None,
        log_file: Path | None = None,
        on_line: Callable[[str], None] | None = None,
        binds: Mapping[str, Path] | None = None,
    ) -> None:
        """Run ``argv`` inside the chroot; output goes to ``log_file`` (appended) and ``on_line``.

        ``binds`` maps folders inside the chroot to host folders mounted there for the run.
        Raises BuildError naming the command and the log's last lines when it fails.
        """
        variables = {"PATH": _PATH, "HOME": "/root", "LANG": "C.UTF-8", **(env or {})}
        mounts = []
        for inside, host in (binds or {}).items():
            host.mkdir(parents=True, exist_ok=True)
            self.host_path(inside).mkdir(parents=True, exist_ok=True)
            target = shlex.quote(str(self.host_path(inside)))
            mounts.append(f"mount --bind {shlex.quote(str(host))} {target} &&")
        inner = " ".join(
            [
                *mounts,
                "mount --rbind /dev",
                shlex.quote(str(self.root / "dev")),
                "&& mount -t proc proc",
                shlex.quote(str(self.root / "proc")),
                "&& exec chroot",
                shlex.quote(str(self.root)),
                "env -i",
                *(shlex.quote(f"{k}={v}") for k, v in variables.items()),
                "sh -c",
                shlex.quote(f"cd {shlex.quote(cwd)} && exec {shlex.join(argv)}"),
            ]
        )
        tail: list[str] = []
        with open(log_file or "/dev/null", "a", buffering=1) as sink:
            proc = subprocess.Popen(
                ["unshare", "--mount", "--propagation", "private", "sh", "-c", inner],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
            )
            assert proc.stdout is not None
            for line in proc.stdout:
                sink.write(line)
                tail = [*tail[-29:], line.rstrip("\n")]
                if on_line:
                    on_line(line)
            code = proc.wait()
        if code:
            where = f" (log: {log_file})" if log_file else ""
            last = "\n".join(tail)
            raise BuildError(f"`{shlex.join(argv)}` failed with exit code {code}{where}:\n{last}")


def install_command(packages: Sequence[str]) -> list[str]:
    """The command that installs Debian ``packages`` in a chroot (without recommends; those
    already installed are left as they are)."""
    return ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-q",
            "--no-install-recommends", *packages]  # fmt: skip


def _key(suite: str) -> str:
    return hashlib.sha256("\n".join((suite, *PACKAGES)).encode()).hexdigest()[:12]


def ensure_chroot(suite: str, base: Path, log_file: Path) -> Chroot:
    """The chroot of ``suite`` with PACKAGES installed, made once under ``base``.

    A failure of debootstrap or apt-get is the environment's (LabEnvironmentError); the
    half-made chroot is removed, so the next run starts clean.
    """
    root = base / f"{suite}-{_key(suite)}"
    if (root / _READY).is_file():
        return Chroot(root)
    if shutil.which("debootstrap") is None:
        raise LabEnvironmentError("debootstrap is not installed (tools/setup.sh installs it)")
    staging = root.with_name(root.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.parent.mkdir(parents=True, exist_ok=True)
    log.warning("creating the %s chroot at %s (about two minutes)", suite, root)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "a") as sink:
        done = subprocess.run(
            ["debootstrap", "--variant=buildd", suite, str(staging), mirror()],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    if done.returncode:
        shutil.rmtree(staging, ignore_errors=True)
        raise LabEnvironmentError(f"debootstrap {suite} failed (log: {log_file})")
    shutil.copy2("/etc/resolv.conf", staging / "etc/resolv.conf")
    chroot = Chroot(staging)
    apt = {"DEBIAN_FRONTEND": "noninteractive"}
    try:
        chroot.run(["apt-get", "update", "-q"], env=apt, log_file=log_file)
        chroot.run(install_command(PACKAGES), log_file=log_file)
    except BuildError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise LabEnvironmentError(f"installing the {suite} packages failed: {exc}") from None
    (staging / _READY).write_text(" ".join(PACKAGES) + "\n")
    staging.rename(root)
    return Chroot(root)

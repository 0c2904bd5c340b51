"""Builds and runs a Rust program on the real, unmodified ``ort-sys`` crate, offline, the way a
Rust user's ``cargo build`` links ONNX Runtime.

The vendored crates (``shared/vendor/crates``, README there) are copied into a work folder:
each ``ort-sys`` release with only its optional download dependencies, and the features naming
them, removed from the copy's Cargo.toml (cargo resolves optional dependencies even when no
feature turns them on), and its ``pkg-config`` dependency pointed at the vendored crate by a
relative path. The build scripts are not touched. ``tests/support/rust_app`` (one source for
every release) goes beside it; ``cargo build --offline`` runs with exactly the variables the
caller gives, plus what the toolchain needs.

Commands go through a ``Runner``: ``HostRunner`` (this machine's cargo), or ``ChrootRunner``
(the lab's chroot, with a host toolchain mounted); every path in them is relative to the work
folder or translated by the runner, so the same steps run on the host and in a chroot. A
cached work folder (``cached_work``) keeps cargo's target directory per release and features,
keyed by every input file; in a chroot, ``prepare`` a folder under its root instead.

    runner = HostRunner.find(rust_version(vendor_dir() / RELEASES["rc.13"]))
    work = cached_work("rc.13", ["ort-sys/pkg-config"])
    runs = build_and_run(work, "rc.13", env, ["ort-sys/pkg-config"], models, runner, out)

    chroot = ChrootRunner(lab.chroot, toolchain=runner.sysroot())
    work = prepare(lab.chroot.host_path("/lab/consumers/rust-rc.13"), "rc.13")
    runs = build_and_run(work, "rc.13", env_inside, (), models_inside, chroot, work / "bin/p")
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ort_wrapper.errors import BuildError
from ort_wrapper.files import cache_root

if TYPE_CHECKING:
    from ort_wrapper.lab.chroot import Chroot

__all__ = [
    "APP",
    "RELEASES",
    "ChrootRunner",
    "Completed",
    "ConsumerBuildFailed",
    "HostRunner",
    "ModelRun",
    "Runner",
    "ToolchainMissing",
    "build",
    "build_and_run",
    "cached_work",
    "offline_manifest",
    "prepare",
    "require_cargo",
    "run_models",
    "rust_version",
    "vendor_dir",
]

APP = Path(__file__).resolve().parent / "rust_app"
APP_NAME = "ort-sys-consumer"
PKG_CONFIG = "pkg-config-0.3.34"
RELEASES = {"rc.10": "ort-sys-2.0.0-rc.10", "rc.13": "ort-sys-2.0.0-rc.13"}
TOOLCHAIN = "/opt/rust-toolchain"  # where ChrootRunner mounts a host toolchain
CHROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
KEPT_OPTIONAL = frozenset({"pkg-config"})  # the one optional dependency that is no download
_DEP_SECTIONS = ("dependencies", "build-dependencies")
_UNDEFINED = re.compile(r"undefined (?:reference to [`']|symbol: )(.+?)'?$", re.M)
_NO_LIBRARY = re.compile(r"(?:cannot find|unable to find library) (-l\S+)")
_CRATE_ERROR = re.compile(r"^error: (?!linking with|could not compile)(.+)$", re.M)
_OUTPUT = re.compile(r"^(\w+)=([-+0-9.e,a-zA-Z]*)$")


class ToolchainMissing(Exception):
    """No cargo new enough for a release here: the reason, for a loud skip."""


class ConsumerBuildFailed(Exception):
    """``cargo build`` failed: what the linker or the build script said, and the whole log."""

    def __init__(self, release: str, log: str) -> None:
        self.log = log
        self.undefined = sorted(set(_UNDEFINED.findall(log)))
        self.missing_libraries = sorted(set(_NO_LIBRARY.findall(log)))
        self.crate_errors = list(dict.fromkeys(_CRATE_ERROR.findall(log)))
        super().__init__(f"cargo build of the {release} consumer failed: {self.summary()}")

    def summary(self) -> str:
        """The cause in a few lines: undefined symbols, missing libraries or the errors."""
        if self.undefined:
            shown = "\n  ".join(self.undefined[:40])
            return f"{len(self.undefined)} undefined symbols:\n  {shown}"
        if self.missing_libraries:
            return f"the linker found no {', '.join(self.missing_libraries)}"
        if self.crate_errors:
            return "\n".join(self.crate_errors[:10])
        return "\n".join(self.log.splitlines()[-30:])


@dataclass(frozen=True)
class Completed:
    """A finished command: its exit status and its stdout and stderr together."""

    returncode: int
    output: str


class Runner(Protocol):
    """Runs a command with exactly ``env`` (plus its toolchain's variables) in ``cwd``."""

    def run(self, argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> Completed:
        """``cwd`` is a host path; the runner translates it where commands see another root."""
        ...

    def path(self, host: Path) -> str:
        """``host`` as the commands see it."""
        ...


def _version(text: str) -> tuple[int, int] | None:
    match = re.search(r"(\d+)\.(\d+)", text)
    return (int(match[1]), int(match[2])) if match else None


@dataclass(frozen=True)
class HostRunner:
    """Commands on this machine, with ``cargo`` from ``bin_dir`` first on PATH."""

    bin_dir: Path
    toolchain_env: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def find(cls, minimum: tuple[int, int]) -> HostRunner:
        """The first cargo at least ``minimum``: on PATH, in $CARGO_HOME/bin, ~/.cargo/bin;
        ToolchainMissing says what was found instead."""
        home = Path.home()
        candidates = [shutil.which("cargo")]
        candidates += [f"{os.environ[v]}/bin/cargo" for v in ("CARGO_HOME",) if v in os.environ]
        candidates.append(str(home / ".cargo/bin/cargo"))
        seen = []
        for cargo in dict.fromkeys(c for c in candidates if c and Path(c).is_file()):
            found = _probe_version(cargo)
            seen.append(f"{cargo} ({'.'.join(map(str, found)) if found else 'no version'})")
            if found and found >= minimum:
                keep = ("HOME", "CARGO_HOME", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN")
                env = {k: os.environ[k] for k in keep if k in os.environ}
                return cls(Path(cargo).parent, {"HOME": str(home), **env})
        wanted = ".".join(map(str, minimum))
        raise ToolchainMissing(
            f"no cargo >= {wanted} here (found: {', '.join(seen) or 'none'}); "
            "install one with rustup (https://rustup.rs)"
        )

    def run(self, argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> Completed:
        """Run ``argv`` with only the toolchain's variables and ``env``."""
        path = f"{self.bin_dir}:/usr/local/bin:/usr/bin:/bin"
        environ = {"PATH": path, **self.toolchain_env, **env}
        done = subprocess.run(
            list(argv), cwd=cwd, env=environ, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, errors="replace", check=False,
        )  # fmt: skip
        return Completed(done.returncode, done.stdout)

    def path(self, host: Path) -> str:
        """Paths are the same here."""
        return str(host)

    def sysroot(self) -> Path:
        """The toolchain folder behind ``bin_dir``'s rustc (rustup's proxies resolved), for
        a ChrootRunner to mount."""
        done = self.run(["rustc", "--print", "sysroot"], Path("/"), {})
        if done.returncode != 0:
            raise ToolchainMissing(f"rustc --print sysroot failed: {done.output.strip()}")
        return Path(done.output.strip().splitlines()[-1])


@dataclass(frozen=True)
class ChrootRunner:
    """Commands inside a chroot (``ort_wrapper.lab.chroot.Chroot``), the work folder under its
    root. ``toolchain`` (a host Rust toolchain folder, ``HostRunner.sysroot()``) is mounted at
    TOOLCHAIN for each command and put first on PATH: trixie's cargo (1.85) is older than
    rc.13 needs."""

    chroot: Chroot
    toolchain: Path | None = None

    def run(self, argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> Completed:
        """Run ``argv`` in the chroot with only the toolchain's variables and ``env``."""
        binds = {TOOLCHAIN: self.toolchain} if self.toolchain else {}
        first = f"{TOOLCHAIN}/bin:" if self.toolchain else ""
        variables = {"PATH": first + CHROOT_PATH, "CARGO_HOME": "/root/.cargo", **env}
        lines: list[str] = []
        try:
            self.chroot.run(
                argv, cwd=self.path(cwd), env=variables, on_line=lines.append, binds=binds
            )
        except BuildError:
            return Completed(1, "".join(lines))
        return Completed(0, "".join(lines))

    def path(self, host: Path) -> str:
        """``host`` (under the chroot's root) as seen inside."""
        return "/" + host.resolve().relative_to(self.chroot.root.resolve()).as_posix()


def _probe_version(cargo: str) -> tuple[int, int] | None:
    try:
        done = subprocess.run([cargo, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return _version(done.stdout) if done.returncode == 0 else None


def vendor_dir() -> Path | None:
    """``shared/vendor/crates`` beside this checkout (or beside a folder above it); None when
    there is none."""
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "vendor" / "crates"
        if (candidate / RELEASES["rc.13"]).is_dir():
            return candidate
    return None


def rust_version(crate: Path) -> tuple[int, int]:
    """The ``rust-version`` a crate's Cargo.toml declares ((1, 0) without one)."""
    package = tomllib.loads((crate / "Cargo.toml").read_text())["package"]
    return _version(package.get("rust-version", "1.0")) or (1, 0)


def _names(entry: str) -> set[str]:
    """What a feature entry refers to: ``dep:x``, ``x/f``, ``x?/f`` and a plain ``x``."""
    return {entry.removeprefix("dep:").split("/")[0].removesuffix("?")}


def _dropped(manifest: dict) -> tuple[set[str], set[str]]:
    """The optional dependencies to drop (all but KEPT_OPTIONAL), and every feature naming one
    of them or a dropped feature."""
    deps = {
        name
        for section in _DEP_SECTIONS
        for name, spec in manifest.get(section, {}).items()
        if isinstance(spec, dict) and spec.get("optional") and name not in KEPT_OPTIONAL
    }
    features: dict[str, list[str]] = manifest.get("features", {})
    dropped: set[str] = set()
    while True:
        more = {
            name
            for name, entries in features.items()
            if name not in dropped and any(_names(e) & (deps | dropped) for e in entries)
        }
        if not more:
            return deps, dropped
        dropped |= more


def offline_manifest(text: str, pkg_config: str) -> str:
    """``ort-sys``'s Cargo.toml without its download dependencies and the features naming them,
    with ``pkg-config`` taken from the relative path ``pkg_config``; every other line as it
    was. ValueError when the result is not what was meant (a multi-line entry, say)."""
    manifest = tomllib.loads(text)
    deps, features = _dropped(manifest)
    drop = {"features": features, **dict.fromkeys(_DEP_SECTIONS, deps)}
    section, lines = "", []
    for line in text.splitlines(keepends=True):
        if header := re.match(r"\s*\[([^\]]+)\]", line):
            section = header[1].strip()
        key = re.match(r"\s*([\w-]+)\s*=", line)
        name = key[1] if key else None
        if name in drop.get(section, ()):
            continue
        if name == "pkg-config" and section in _DEP_SECTIONS:
            optional = ", optional = true" if "optional" in line else ""
            line = f'pkg-config = {{ path = "{pkg_config}"{optional} }}\n'
        lines.append(line)
    result = "".join(lines)
    _check_offline(tomllib.loads(result), deps, features)
    return result


def _check_offline(manifest: dict, deps: set[str], features: set[str]) -> None:
    left = {n for s in _DEP_SECTIONS for n in manifest.get(s, {})} & deps
    left |= set(manifest.get("features", {})) & features
    if left:
        raise ValueError(f"the edited Cargo.toml still names {sorted(left)}")


def _tree_digest(root: Path, digest: hashlib._Hash) -> None:
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())


def input_key(release: str, features: Sequence[str], vendor: Path) -> str:
    """A digest of everything a build depends on but the variables: the crates, the app, the
    features."""
    digest = hashlib.sha256(f"{release}\0{sorted(features)}\0".encode())
    for root in (vendor / RELEASES[release], vendor / PKG_CONFIG, APP):
        _tree_digest(root, digest)
    return digest.hexdigest()[:16]


def _copy_crate(src: Path, dest: Path) -> None:
    """Copy a crate keeping modification times, so that cargo sees unchanged sources."""
    shutil.copytree(src, dest, copy_function=shutil.copy2, ignore=shutil.ignore_patterns("target"))


def prepare(
    work: Path, release: str, features: Sequence[str] = (), vendor: Path | None = None
) -> Path:
    """Lay out ``work``: ``ort-sys/`` (the release, made offline), ``pkg-config/``, ``app/``.
    Idempotent: a folder prepared from the same inputs is kept as it is. Returns ``work``."""
    vendor = vendor or vendor_dir()
    if vendor is None:
        raise ToolchainMissing("no shared/vendor/crates beside this checkout")
    key = input_key(release, features, vendor)
    stamp = work / ".prepared"
    if stamp.is_file() and stamp.read_text() == key:
        return work
    for name in ("ort-sys", "pkg-config", "app", ".prepared"):
        path = work / name
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    crate = vendor / RELEASES[release]
    _copy_crate(crate, work / "ort-sys")
    _copy_crate(vendor / PKG_CONFIG, work / "pkg-config")
    _copy_crate(APP, work / "app")
    toml = work / "ort-sys" / "Cargo.toml"
    toml.write_text(offline_manifest((crate / "Cargo.toml").read_text(), "../pkg-config"))
    original = (crate / "Cargo.toml").stat()
    os.utime(toml, ns=(original.st_atime_ns, original.st_mtime_ns))
    stamp.write_text(key)
    return work


def cached_work(release: str, features: Sequence[str] = ()) -> Path:
    """A work folder under the project's cache for ``release`` and ``features``, keyed by the
    inputs, prepared; cargo's target directory inside it survives between runs."""
    vendor = vendor_dir()
    if vendor is None:
        raise ToolchainMissing("no shared/vendor/crates beside this checkout")
    tag = "+".join([release, *sorted(f.replace("/", "-") for f in features)])
    key = input_key(release, features, vendor)
    return prepare(cache_root() / "rust-consumers" / f"{tag}-{key}", release, features, vendor)


def require_cargo(work: Path, runner: Runner) -> None:
    """ToolchainMissing unless the runner's cargo is at least the prepared ort-sys's
    ``rust-version``."""
    minimum = rust_version(work / "ort-sys")
    done = runner.run(["cargo", "--version"], work, {})
    found = _version(done.output) if done.returncode == 0 else None
    if found is None or found < minimum:
        seen = done.output.strip()[-200:] or f"exit {done.returncode}"
        raise ToolchainMissing(
            f"ort-sys in {work} needs cargo >= {'.'.join(map(str, minimum))}; "
            f"`cargo --version` there says: {seen}"
        )


@contextmanager
def _locked(work: Path) -> Iterator[None]:
    """One build at a time in ``work`` (the binary is copied out before the lock goes)."""
    with open(work / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def build(
    work: Path, release: str, env: Mapping[str, str], features: Sequence[str], runner: Runner,
    out: Path,
) -> Path:  # fmt: skip
    """``cargo build --offline`` of the app in a prepared ``work`` with ``env``; the binary is
    copied to ``out`` (a host path). ConsumerBuildFailed names what the link missed;
    ToolchainMissing when the runner's cargo is too old for the release."""
    argv = ["cargo", "build", "--offline", "--target-dir", "../target"]
    argv += [f"--features={','.join(features)}"] if features else []
    require_cargo(work, runner)
    with _locked(work):
        done = runner.run(argv, work / "app", env)
        if done.returncode != 0:
            raise ConsumerBuildFailed(release, done.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(work / "target" / "debug" / APP_NAME, out)
    return out


@dataclass(frozen=True)
class ModelRun:
    """What the program printed for one model."""

    version: str  # the library's GetVersionString()
    api: int  # the C API version it asked for
    outputs: dict[str, np.ndarray]


def parse_output(text: str) -> ModelRun:
    """The program's printout as a ModelRun; ValueError when a line is missing."""
    version = re.search(r"^onnxruntime (\S+)$", text, re.M)
    api = re.search(r"^api (\d+)$", text, re.M)
    if not version or not api:
        raise ValueError(f"not the program's printout:\n{text[-2000:]}")
    outputs = {
        m[1]: np.array([float(v) for v in m[2].split(",") if v], dtype=np.float32)
        for m in map(_OUTPUT.match, text.splitlines())
        if m
    }
    return ModelRun(version[1], int(api[1]), outputs)


def run_models(
    binary: Path, models: Mapping[str, Path], env: Mapping[str, str], runner: Runner
) -> dict[str, ModelRun]:
    """Run ``binary`` on each model (host paths) with ``env``; AssertionError with the output
    when it fails."""
    results = {}
    for name, model in models.items():
        done = runner.run([runner.path(binary), runner.path(model)], binary.parent, env)
        assert done.returncode == 0, (
            f"{binary.name} {model.name}: exit {done.returncode}\n{done.output}"
        )
        results[name] = parse_output(done.output)
    return results


def build_and_run(
    work: Path, release: str, env: Mapping[str, str], features: Sequence[str],
    models: Mapping[str, Path], runner: Runner, out: Path,
) -> dict[str, ModelRun]:  # fmt: skip
    """Build in ``work`` (see ``build``), then run each model with the same ``env``."""
    binary = build(work, release, env, features, runner, out)
    return run_models(binary, models, env, runner)

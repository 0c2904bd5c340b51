"""A platform wheel of ort-wrapper that carries a bundle, repaired by auditwheel.

The bundle goes to ``ort_wrapper/_bundle/`` (``runtime.distribution.CARRIED_BUNDLE``), where
``init()`` finds it without any environment variable. The wheel's requirements are
ort-wrapper's own minus ``onnxruntime`` (the bundle is the runtime; two would conflict) plus the
Python requirements of the bundled ``onnxruntime`` package. The wheel is written
deterministically (sorted entries, fixed timestamps) and then ``auditwheel repair`` gives it the
lowest manylinux tag its symbol versions allow; the host-only libraries of ``elf/policy.json``
are passed as ``--exclude``. auditwheel stamps the zip entries it rewrites with the time, unless
``SOURCE_DATE_EPOCH`` is set: it is set to the same fixed epoch (when the caller has not chosen
one), so two runs give byte-identical wheels. Output appears in ``out_dir`` only when everything
succeeded; every temporary file (auditwheel's too) lives in one temporary directory inside
``out_dir`` that is removed however the command ends, and an ``out_dir`` the command created is
removed again when it fails.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from ..elf.policy import host_patterns
from ..errors import BundleError
from ..escape import text_problem, wheel_record_line
from ..files import distribution_name, find_tool, publish, record_hash
from ..progress import Progress
from .record import read_bundle_record
from .write import BundleResult, make_bundle

__all__ = ["WheelResult", "build_wheel", "make_wheel", "repair_wheel"]

log = logging.getLogger(__name__)

DIST_NAME = "ort-wrapper"
_EPOCH = (1980, 1, 1, 0, 0, 0)
_EPOCH_SECONDS = "315532800"  # _EPOCH as SOURCE_DATE_EPOCH (seconds since 1970, UTC)
_CHUNK = 1 << 22
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_EXT = re.compile(r"\.cpython-(\d)(\d+)-")
_MANYLINUX = re.compile(r"manylinux_(\d+)_(\d+)_")


@dataclass(frozen=True)
class WheelResult:
    """A repaired wheel and what auditwheel made of it."""

    path: Path
    platform_tag: str  # e.g. manylinux_2_36_x86_64 (dotted when auditwheel adds aliases)
    lowest_manylinux: str | None  # the lowest manylinux_x_y tag among them
    bundle: BundleResult

    def to_json(self) -> dict[str, Any]:
        """For ``--json``."""
        return {
            "wheel": str(self.path),
            "platformTag": self.platform_tag,
            "lowestManylinux": self.lowest_manylinux,
            "bytes": self.path.stat().st_size,
            "bundle": self.bundle.to_json(),
        }


def _req_name(requirement: str) -> str:
    match = _NAME.match(requirement)
    return distribution_name(match.group(1)) if match else requirement


def _requirements(bundle: Path) -> list[str]:
    own = [r for r in (metadata.requires(DIST_NAME) or []) if "extra ==" not in r]
    carried = read_bundle_record(bundle).python_requires
    chosen: dict[str, str] = {}
    for requirement in [*own, *carried]:
        name = _req_name(requirement)
        if name not in ("onnxruntime", "onnxruntime-gpu"):
            chosen.setdefault(name, requirement)
    return list(chosen.values())


def _python_tag(bundle: Path) -> tuple[str, str]:
    for path in sorted(bundle.rglob("onnxruntime_pybind11_state*")):
        if match := _EXT.search(path.name):
            return f"cp{match.group(1)}{match.group(2)}", f"=={match.group(1)}.{match.group(2)}.*"
    major, minor = sys.version_info[:2]
    return f"cp{major}{minor}", f"=={major}.{minor}.*"


def _members(package: Path, bundle: Path) -> Iterator[tuple[str, Path]]:
    for path in sorted(package.rglob("*")):
        rel = path.relative_to(package)
        if rel.parts[0] == "_bundle" or "__pycache__" in rel.parts or not path.is_file():
            continue
        yield f"ort_wrapper/{rel.as_posix()}", path
    for path in sorted(bundle.rglob("*")):
        if path.is_file() and not path.is_symlink():  # a wheel holds no symlinks; Python needs none
            yield f"ort_wrapper/_bundle/{path.relative_to(bundle).as_posix()}", path


def _zinfo(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_EPOCH)
    info.external_attr = (mode & 0xFFFF) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _metadata_files(version: str, tag: str, requires_python: str, bundle: Path) -> dict[str, str]:
    record = read_bundle_record(bundle)
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {DIST_NAME}",
        f"Version: {version}",
        f"Summary: ort-wrapper carrying a bundled ONNX Runtime {record.version} ({record.variant})",
        f"Requires-Python: {requires_python}",
        *(f"Requires-Dist: {r}" for r in _requirements(bundle)),
    ]
    scripts = [
        f"{ep.name} = {ep.value}"
        for ep in metadata.distribution(DIST_NAME).entry_points
        if ep.group == "console_scripts"
    ]
    return {
        "METADATA": "\n".join(lines) + "\n",
        "WHEEL": "Wheel-Version: 1.0\nGenerator: ort-wrapper wheel\nRoot-Is-Purelib: false\n"
        f"Tag: {tag}\n",
        "entry_points.txt": "[console_scripts]\n" + "".join(f"{s}\n" for s in scripts),
    }


def build_wheel(
    bundle: Path, out_dir: Path, *, package: Path | None = None, quiet: bool = False
) -> Path:
    """Write ``ort_wrapper-<version>-<cpXY>-<cpXY>-linux_<arch>.whl`` carrying ``bundle``."""
    package = package or Path(__file__).resolve().parents[1]
    try:
        version = metadata.version(DIST_NAME)
    except metadata.PackageNotFoundError:
        raise BundleError(
            f"{DIST_NAME} is not installed in this environment (its metadata gives the wheel's "
            "version and entry points): pip install -e python"
        ) from None
    python_tag, requires_python = _python_tag(bundle)
    tag = f"{python_tag}-{python_tag}-linux_{platform.machine()}"
    path = out_dir / f"ort_wrapper-{version}-{tag}.whl"
    dist_info = f"ort_wrapper-{version}.dist-info"
    members = list(_members(package, bundle))
    for name, _ in members:  # before the first byte is written
        if (problem := text_problem(name)) is not None:
            raise BundleError(f"the file {name!r} {problem}, which a wheel cannot carry: refused")
    record: list[str] = []
    total = sum(p.stat().st_size for _, p in members)
    with (
        zipfile.ZipFile(path, "w", allowZip64=True) as zf,
        Progress("wheel: compressing", total, unit="B", quiet=quiet) as progress,
    ):
        for name, src in members:
            digest = hashlib.sha256()
            mode = 0o100755 if os.access(src, os.X_OK) else 0o100644
            with open(src, "rb") as fin, zf.open(_zinfo(name, mode), "w", force_zip64=True) as fout:
                while block := fin.read(_CHUNK):
                    digest.update(block)
                    fout.write(block)
                    progress.advance(len(block))
            size = str(src.stat().st_size)
            record.append(wheel_record_line(name, record_hash(digest.digest()), size))
        for name, text in _metadata_files(version, tag, requires_python, bundle).items():
            data = text.encode()
            zf.writestr(_zinfo(f"{dist_info}/{name}", 0o100644), data)
            digest_text = record_hash(hashlib.sha256(data).digest())
            record.append(wheel_record_line(f"{dist_info}/{name}", digest_text, str(len(data))))
        record.append(wheel_record_line(f"{dist_info}/RECORD", "", ""))
        zf.writestr(_zinfo(f"{dist_info}/RECORD", 0o100644), "\n".join(record) + "\n")
    return path


def _lowest(platform_tag: str) -> str | None:
    tags = [
        (tuple(map(int, m.groups())), t)
        for t in platform_tag.split(".")
        if (m := _MANYLINUX.match(t))
    ]
    return min(tags)[1] if tags else None


def repair_wheel(
    wheel: Path, out_dir: Path, excludes: Iterable[str] = (), *, tmp_dir: Path | None = None
) -> Path:
    """``auditwheel repair`` ``wheel`` into ``out_dir`` (--plat auto: the lowest tag allowed),
    reproducibly (``SOURCE_DATE_EPOCH``), with auditwheel's temporary files in ``tmp_dir``."""
    cmd = [find_tool("auditwheel", error=BundleError), "repair", "-w", str(out_dir)]
    for pattern in (*host_patterns(), *excludes):
        cmd += ["--exclude", pattern]
    cmd.append(str(wheel))
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.setdefault("SOURCE_DATE_EPOCH", _EPOCH_SECONDS)
    if tmp_dir is not None:
        env["TMPDIR"] = str(tmp_dir)
    log.info("running %s", " ".join(cmd))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise BundleError(
            f"auditwheel repair {wheel.name} failed (exit {proc.returncode}):\n{tail}"
        )
    repaired = sorted(out_dir.glob("ort_wrapper-*.whl"))
    if len(repaired) != 1:
        raise BundleError(
            f"auditwheel repair wrote {len(repaired)} wheels to {out_dir}, expected 1"
        )
    return repaired[0]


def make_wheel(
    src: Path | str,
    out_dir: Path | str,
    *,
    search_dirs: Iterable[Path | str] = (),
    providers: Iterable[str] | None = None,
    quiet: bool = False,
) -> WheelResult:
    """Bundle ``src``, build the wheel carrying it, repair it; the wheel lands in ``out_dir``."""
    out_dir = Path(out_dir).expanduser().absolute()
    missing = [d for d in (out_dir, *out_dir.parents) if not d.exists()]  # created below
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(prefix=".ort-wrapper-wheel-", dir=out_dir) as tmp_name:
            tmp = Path(tmp_name)
            bundle = make_bundle(
                src, tmp / "bundle", search_dirs=search_dirs, providers=providers, quiet=quiet
            )
            for name in ("plain", "repaired", "auditwheel"):
                (tmp / name).mkdir()
            plain = build_wheel(bundle.root, tmp / "plain", quiet=quiet)
            repaired = repair_wheel(plain, tmp / "repaired", tmp_dir=tmp / "auditwheel")
            final = publish(repaired, out_dir / repaired.name, BundleError)
    except BaseException:
        for directory in missing:  # innermost first; a directory something else wrote into stays
            if any(directory.iterdir()):
                break
            directory.rmdir()
        raise
    platform_tag = final.stem.split("-")[-1]
    return WheelResult(final, platform_tag, _lowest(platform_tag), bundle)

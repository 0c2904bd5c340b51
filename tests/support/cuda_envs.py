"""Slow-tier environments with the real ``onnxruntime-gpu`` and nvidia-* wheels, cached by input.

Each environment is built once under ``cache_root()/test-envs/<hash of its pinned spec>``,
in a temporary directory renamed into place (so a half-built one is never used), under a file
lock (so two test processes do not download the same 2 GB twice). pip's own cache
(``~/.cache/pip``) makes a rebuild after deleting the cache cheap.

- ``gpu_venv()``: a venv with ``onnxruntime-gpu==1.23.2`` and ort-wrapper's other runtime
  dependencies, but NOT ``onnxruntime``; returns its python.
- ``wrapper_venv(extra)``: a venv where only ``pip install 'ort-wrapper[extra]'`` (this checkout)
  ran: ``gpu`` pulls onnxruntime-gpu alone, ``None`` no ONNX Runtime at all.
- ``both_venv()``: a venv with both ``onnxruntime`` and ``onnxruntime-gpu`` (the conflict users
  hit); returns its python.
- ``nvidia_libs()``: a ``pip install --target`` directory with the nvidia-* wheels that
  ``onnxruntime-gpu[cuda,cudnn]==1.23.2`` pulls; libraries are in ``<dir>/nvidia/*/lib``.
- ``run_python(python, code_or_args, env=...)``: run with ``PYTHONPATH=<repo>/python`` so the
  repository's ``ort_wrapper`` is imported.

When PyPI cannot be reached, these call ``pytest.skip`` with a loud reason.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from pathlib import Path

import pytest

from ort_wrapper.files import cache_root
from ort_wrapper.matrix import load_matrix

REPO = Path(__file__).resolve().parents[2]

__all__ = [
    "BOTH_SPEC",
    "GPU_SPEC",
    "NVIDIA_SPEC",
    "REPO",
    "both_venv",
    "build_cached",
    "env_dir",
    "gpu_venv",
    "make_venv",
    "nvidia_libs",
    "require_pypi",
    "run_logged",
    "run_python",
    "venv_python",
    "wrapper_venv",
]

ORT_VERSION = load_matrix().ort_version
# ort-wrapper's runtime dependencies other than onnxruntime, as python/pyproject.toml lists them.
WRAPPER_DEPS = tuple(
    dep
    for dep in tomllib.loads((REPO / "python" / "pyproject.toml").read_text())["project"][
        "dependencies"
    ]
    if not dep.startswith("onnxruntime")
)
GPU_SPEC = (f"onnxruntime-gpu=={ORT_VERSION}", *WRAPPER_DEPS)
BOTH_SPEC = (f"onnxruntime=={ORT_VERSION}", f"onnxruntime-gpu=={ORT_VERSION}", *WRAPPER_DEPS)
NVIDIA_SPEC = (f"onnxruntime-gpu[cuda,cudnn]=={ORT_VERSION}",)
PYPI_PROBE = "https://pypi.org/simple/onnxruntime-gpu/"


def _say(message: str) -> None:
    """Progress on the real stderr, visible even while pytest captures output."""
    print(f"[cuda_envs] {message}", file=sys.__stderr__, flush=True)


@cache
def _pypi_reachable() -> str | None:
    """None when PyPI answers; otherwise why not."""
    try:
        with urllib.request.urlopen(PYPI_PROBE, timeout=20) as response:
            response.read(1)
        return None
    except (urllib.error.URLError, OSError) as exc:
        return str(getattr(exc, "reason", exc))


def require_pypi(what: str) -> None:
    """pytest.skip, loudly, when PyPI cannot be reached (``what`` names the environment)."""
    reason = _pypi_reachable()
    if reason is not None:
        pytest.skip(
            f"!!! SKIPPED: PyPI is UNREACHABLE ({reason}); cannot build the {what} test "
            "environment from PyPI. THESE TESTS DID NOT RUN. !!!"
        )


def _key(kind: str, spec: Sequence[str]) -> str:
    data = {
        "kind": kind,
        "spec": list(spec),
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        "machine": platform.machine(),
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def env_dir(kind: str, spec: Sequence[str]) -> Path:
    """Where the environment of ``kind`` built from ``spec`` is (or will be) cached."""
    return cache_root() / "test-envs" / f"{kind}-{_key(kind, spec)}"


def run_logged(cmd: Sequence[str], what: str) -> None:
    _say(f"{what}: {' '.join(cmd)}")
    start = time.monotonic()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    tail: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        tail = [*tail[-40:], line.rstrip()]
        if line.startswith(("Collecting", "Downloading", "Installing", "Successfully")):
            _say(f"  {line.rstrip()}")
    if proc.wait() != 0:
        raise RuntimeError(f"{what} failed (exit {proc.returncode}):\n" + "\n".join(tail))
    _say(f"{what}: done in {time.monotonic() - start:.0f} s")


def build_cached(
    kind: str,
    spec: Sequence[str],
    build: Callable[[Path], None],
    require: Callable[[str], None] = lambda kind: require_pypi(kind),
) -> Path:
    """Build ``kind`` atomically (tmp dir + rename) under a lock; return the final directory.
    ``require`` skips loudly when the registry the build needs cannot be reached."""
    final = env_dir(kind, spec)
    if (final / "spec.json").exists():
        return final
    require(kind)
    final.parent.mkdir(parents=True, exist_ok=True)
    with open(final.parent / f".{final.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (final / "spec.json").exists():  # built by another process while we waited
            return final
        tmp = final.parent / f".{final.name}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        _say(f"building {kind} environment in {final} (cached for later runs)")
        try:
            build(tmp)
            (tmp / "spec.json").write_text(json.dumps({"kind": kind, "spec": list(spec)}) + "\n")
            shutil.rmtree(final, ignore_errors=True)
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return final


def venv_python(root: Path) -> Path:
    return root / "bin" / "python"


def make_venv(spec: Sequence[str]) -> Callable[[Path], None]:
    def build(tmp: Path) -> None:
        run_logged([sys.executable, "-m", "venv", str(tmp)], "create venv")
        run_logged(
            [str(venv_python(tmp)), "-m", "pip", "install", "--progress-bar", "off", *spec],
            f"pip install {' '.join(spec)}",
        )

    return build


def gpu_venv() -> Path:
    """Python of a venv with onnxruntime-gpu==1.23.2 and ort-wrapper's deps, without onnxruntime."""
    return venv_python(build_cached("gpu-venv", GPU_SPEC, make_venv(GPU_SPEC)))


def both_venv() -> Path:
    """Python of a venv holding both onnxruntime==1.23.2 and onnxruntime-gpu==1.23.2."""
    return venv_python(build_cached("both-venv", BOTH_SPEC, make_venv(BOTH_SPEC)))


def _wrapper_build(extra: str | None) -> Callable[[Path], None]:
    """Install ort-wrapper as a user would (``pip install 'ort-wrapper[extra]'``), from a copy
    of this checkout's python/ (pip builds in the source tree; the checkout stays untouched)."""

    def build(tmp: Path) -> None:
        run_logged([sys.executable, "-m", "venv", str(tmp)], "create venv")
        source = tmp / "ort-wrapper-source"
        shutil.copytree(
            REPO / "python", source, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
        )
        target = f"{source}[{extra}]" if extra else str(source)
        run_logged(
            [str(venv_python(tmp)), "-m", "pip", "install", "--progress-bar", "off", target],
            f"pip install ort-wrapper{f'[{extra}]' if extra else ''} (this checkout)",
        )
        shutil.rmtree(source)

    return build


def wrapper_venv(extra: str | None = None) -> Path:
    """Python of a fresh venv where only ``pip install 'ort-wrapper[extra]'`` ran (no extra
    when None), with this checkout's requirements (cached by pyproject.toml's hash; tests run
    the checkout's code through ``run_python``)."""
    pyproject = hashlib.sha256((REPO / "python/pyproject.toml").read_bytes()).hexdigest()
    spec = (f"ort-wrapper[{extra or ''}]", f"pyproject.toml sha256 {pyproject}")
    return venv_python(
        build_cached(f"wrapper-{extra or 'plain'}-venv", spec, _wrapper_build(extra))
    )


def _nvidia_build(tmp: Path) -> None:
    tmp.mkdir(parents=True)
    report = tmp / "pip-report.json"
    run_logged(
        [
            sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
            "--quiet", "--report", str(report), *NVIDIA_SPEC,
        ],
        "resolve the nvidia-* wheels of " + " ".join(NVIDIA_SPEC),
    )  # fmt: skip
    pins = sorted(
        f"{item['metadata']['name']}=={item['metadata']['version']}"
        for item in json.loads(report.read_text())["install"]
        if item["metadata"]["name"].lower().startswith("nvidia-")
    )
    if not pins:
        raise RuntimeError(f"{' '.join(NVIDIA_SPEC)} resolved to no nvidia-* wheel ({report})")
    (tmp / "pins.txt").write_text("\n".join(pins) + "\n")
    run_logged(
        [
            sys.executable, "-m", "pip", "install", "--progress-bar", "off", "--no-deps",
            "--target", str(tmp), *pins,
        ],
        f"pip install --target ({len(pins)} nvidia-* wheels, about 1.7 GB)",
    )  # fmt: skip


def nvidia_libs() -> Path:
    """A ``pip install --target`` directory with the nvidia-* wheels (libs in nvidia/*/lib)."""
    return build_cached("nvidia-libs", NVIDIA_SPEC, _nvidia_build)


def run_python(
    python: Path | str,
    code_or_args: str | Sequence[str],
    env: Mapping[str, str | None] | None = None,
    *,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -c CODE`` (a str) or ``python *ARGS`` with the repo's ort_wrapper importable.

    ``env`` entries override the inherited environment; a value of None removes the variable
    (e.g. ``{"LD_LIBRARY_PATH": None}``). Output is captured as text; the caller checks it.
    """
    full = dict(os.environ)
    full["PYTHONPATH"] = str(REPO / "python")
    for name, value in (env or {}).items():
        if value is None:
            full.pop(name, None)
        else:
            full[name] = value
    args = ["-c", code_or_args] if isinstance(code_or_args, str) else list(code_or_args)
    return subprocess.run(
        [str(python), *args], env=full, capture_output=True, text=True, timeout=timeout
    )

"""A reduced build in the lab: ORT's own ``reduce_op_kernels.py`` rewrites the kernel
registrations into the build tree before CMake runs with ``onnxruntime_REDUCED_OPS_BUILD``.

That option also defines ``REDUCED_OPS_BUILD`` for every ORT target. When no library source
reads the macro (1.21.0: only tests do), ccache is told to leave it out of its hash, so the
reduced build reuses the full build's objects for every file the reduction does not touch.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from ..operators import OperatorConfig, read_config
from .chroot import Chroot, install_command
from .paths import INSIDE

__all__ = ["ccache_settings", "operators_for_models", "reduce_kernels", "reduction_flags"]

log = logging.getLogger(__name__)

MACRO = "REDUCED_OPS_BUILD"
SCRIPT = "tools/ci_build/reduce_op_kernels.py"
# what `reduce-config --dist` needs in the chroot to run the static build there (a Python
# linked with its archives is built from libpython3-dev); none of them is a build input
RUN_PACKAGES = ("python3-numpy", "python3-onnx", "python3-pyelftools", "libpython3-dev")
# ORT's script imports its config parser only when the flatbuffers module is there
SCRIPT_PACKAGES = ("python3-flatbuffers",)
_PACKAGE = Path(__file__).resolve().parents[1]  # ort_wrapper
_SOURCE_SUFFIXES = {".h", ".hh", ".hpp", ".c", ".cc", ".cpp", ".inc", ".cu", ".cuh", ".mm"}
_SCANNED = ("onnxruntime", "include", "orttraining")


def reduction_flags(operators: OperatorConfig | None) -> dict[str, str | bool]:
    """The CMake flag of a reduced build (none for a full one)."""
    return {"onnxruntime_REDUCED_OPS_BUILD": True} if operators else {}


def _readers(src: Path) -> list[Path]:
    """Library sources that mention the macro (tests excluded: the lab does not build them)."""
    candidates = (
        path.relative_to(src)
        for top in _SCANNED
        for path in (src / top).rglob("*")
        if path.suffix in _SOURCE_SUFFIXES
    )
    return [
        p for p in candidates if "test" not in p.parts and MACRO.encode() in (src / p).read_bytes()
    ]


def ccache_settings(src: Path, operators: OperatorConfig | None) -> dict[str, str]:
    """ccache's environment for this build: leave ``-DREDUCED_OPS_BUILD`` out of the hash
    when no library source under ``src`` reads it (a source that does keeps it hashed)."""
    if operators is None:
        return {}
    readers = _readers(src)
    if readers:
        log.warning("%s is read by %s: the reduced build recompiles everything", MACRO, readers)
        return {}
    return {"CCACHE_IGNOREOPTIONS": f"-D{MACRO}"}


def reduce_kernels(
    host_path: Callable[[str], Path],
    run: Callable[[list[str]], None],
    operators: OperatorConfig,
    src: str,
    build: str,
) -> None:
    """Write the config into the chroot and run ORT's script on it (``build`` must exist)."""
    run(install_command(SCRIPT_PACKAGES))
    host_path(INSIDE.operators).write_text(operators.text())
    run(["python3", f"{src}/{SCRIPT}", "--cmake_build_dir", build, INSIDE.operators])


def _stage_models(root: Chroot, models: Sequence[Path]) -> list[str]:
    """Copy the models into the chroot, one folder each (names are kept, and may repeat)."""
    shutil.rmtree(root.host_path(INSIDE.models), ignore_errors=True)
    inside = []
    for number, model in enumerate(models):
        target = f"{INSIDE.models}/{number}/{model.name}"
        root.host_path(target).parent.mkdir(parents=True)
        shutil.copyfile(model, root.host_path(target))
        inside.append(target)
    return inside


def operators_for_models(
    root: Chroot, dist_inside: str, models: Sequence[Path], run: Callable[..., None]
) -> OperatorConfig:
    """``reduce-config --dist`` run in the chroot on the full build at ``dist_inside`` (its
    system libraries are there): the models' operators and those its optimisers add.
    ``run(argv, env=...)`` runs a command in the chroot."""
    run(install_command(RUN_PACKAGES))
    python = root.host_path(INSIDE.python)
    shutil.rmtree(python, ignore_errors=True)
    shutil.copytree(_PACKAGE, python / _PACKAGE.name, ignore=shutil.ignore_patterns("__pycache__"))
    argv = ["python3", "-m", "ort_wrapper.cli", "reduce-config", "--dist", dist_inside,
            *_stage_models(root, models), "--out", INSIDE.operators]  # fmt: skip
    run(argv, env={"PYTHONPATH": INSIDE.python})
    return read_config(root.host_path(INSIDE.operators))

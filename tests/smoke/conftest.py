"""The native lab's result, shared by the lab-tier smoke tests (built once, cached by input)."""

from __future__ import annotations

import os
import shutil

import pytest

from ort_wrapper.errors import LabEnvironmentError
from ort_wrapper.lab.run import LabResult, run_lab
from ort_wrapper.lab.source import known_source
from ort_wrapper.matrix import load_matrix

from helpers import LAB_VERSION, REPO, skip_loudly


@pytest.fixture(scope="module")
def lab() -> LabResult:
    """ORT ``LAB_VERSION`` cpu-static built in the trixie chroot and finalized."""
    if os.geteuid() != 0:
        skip_loudly("the lab needs root (debootstrap, chroot, mounts)")
    if shutil.which("debootstrap") is None:
        skip_loudly("debootstrap is not installed (tools/setup.sh installs it)")
    try:
        return run_lab(
            load_matrix(),
            "cpu",
            known_source(LAB_VERSION),
            REPO / "patches",
            jobs=os.cpu_count() or 1,
            prune=True,
        )
    except LabEnvironmentError as exc:
        skip_loudly(str(exc))
        raise  # unreachable: skip raises

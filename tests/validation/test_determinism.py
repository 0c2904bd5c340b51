"""Validation: determinism on the installed wheel's CPU provider, in this process."""

from __future__ import annotations

import numpy as np

from ort_wrapper.check.compare import max_abs_diff, same_outputs
from ort_wrapper.check.determinism import ModelSource, determinism_section
from ort_wrapper.check.models import builtin_models


def test_cpu_is_bitwise_deterministic_on_the_builtin_models() -> None:
    models = [ModelSource(m.name, data=m.data) for m in builtin_models()]
    section = determinism_section(models, runs=10)
    assert section.status == "pass", section.to_json()
    statuses = {c.name: c.status for c in section.checks}
    assert statuses["builtin:mlp: 10 runs, one session"] == "pass"
    assert statuses["builtin:conv: two sessions"] == "pass"
    assert statuses["builtin:mlp: thread counts 1, 2, 4"] == "info"  # reported, never judged


def test_bitwise_comparison_sees_one_ulp() -> None:
    a = {"y": np.array([1.0, 2.0], dtype=np.float32)}
    b = {"y": np.nextafter(a["y"], np.float32(3))}
    assert same_outputs(a, {"y": a["y"].copy()})
    assert not same_outputs(a, b)
    assert not same_outputs(a, {"y": a["y"].astype(np.float64)})
    assert 0 < max_abs_diff(a, b) < 1e-6

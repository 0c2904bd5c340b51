"""``ort-wrapper doctor``: why ONNX Runtime does (or does not) load here, without a model.

:func:`diagnose` inspects the distributions installed or pointed to (and which one ``init()``
would use), each compiled-in execution provider's dependency closure, the host (glibc,
libstdc++, NVIDIA driver, CUDA libraries) and what this process has already loaded. The result
is check's model (``ort_wrapper.report``): one section each, each finding a check named by its
:class:`~ort_wrapper.report.Kind` with one line of fact and one line of fix.
"""

from __future__ import annotations

import os
import time

from ..report import Report, Section

__all__ = ["diagnose"]


def diagnose(distribution: str | os.PathLike[str] | None = None) -> Report:
    """Inspect the environment (``distribution``: a prefix to diagnose instead of the one
    ``init()`` would choose) and return the findings with their structured details."""
    from ..matrix import load_matrix
    from .distributions import distribution_findings
    from .host import host_section
    from .process import process_section
    from .providers import compiled_in, probe_check, provider_section

    start = time.monotonic()
    expected = load_matrix().ort_version
    given = os.fspath(distribution) if distribution is not None else None
    checks, data, selected, diagnosis = distribution_findings(given, expected)
    sections = []
    statuses: tuple = ()
    build_info = None
    if selected is not None:
        compiled = compiled_in(selected)
        checks += [c for c in (probe_check(selected, compiled),) if c]
        providers, statuses = provider_section(selected, compiled)
        sections.append(providers)
        build_info = data.get("selected", {}).get("buildInfo")
    sections.insert(0, Section("distributions", tuple(checks), data=data))
    sections += [host_section(diagnosis, statuses, build_info), process_section()]
    subject = f"this environment (this toolkit builds ONNX Runtime {expected})"
    return Report("ort-wrapper doctor", subject, tuple(sections), time.monotonic() - start)

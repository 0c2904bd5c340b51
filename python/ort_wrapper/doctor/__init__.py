"""``ort-wrapper doctor``: why ONNX Runtime does (or does not) load here, without a model.

:func:`diagnose` inspects the distributions installed or pointed to (and which one ``init()``
would use), each compiled-in execution provider's dependency closure, the host (glibc,
libstdc++, NVIDIA driver, CUDA libraries) and what this process has already loaded. Each
finding has a severity (ok, warning, error), one line of fact and one line of fix.
Sub-modules: ``findings`` (the model), ``distributions``, ``providers``, ``host``, ``process``,
``render`` (text table).
"""

from __future__ import annotations

import logging
import os

from .findings import CODES, SEVERITIES, Finding, Report

__all__ = ["CODES", "SEVERITIES", "Finding", "Report", "diagnose"]

log = logging.getLogger(__name__)


def diagnose(distribution: str | os.PathLike[str] | None = None) -> Report:
    """Inspect the environment (``distribution``: a prefix to diagnose instead of the one
    ``init()`` would choose) and return the findings with their structured details."""
    from ..matrix import load_matrix
    from .distributions import distribution_findings
    from .host import host_findings
    from .process import process_findings
    from .providers import compiled_in, provider_findings

    expected = load_matrix().ort_version
    given = os.fspath(distribution) if distribution is not None else None
    findings, dist_details, selected, layout = distribution_findings(given, expected)
    details: dict[str, object] = {"distributions": dist_details}
    statuses: tuple = ()
    closures: tuple = ()
    build_info = None
    if selected is not None:
        compiled = compiled_in(selected)
        found = provider_findings(selected, compiled)
        findings += found.findings
        details["providers"], statuses, closures = found.details, found.statuses, found.closures
        build_info = dist_details.get("selected", {}).get("buildInfo")
    objects = layout.shared_objects() if layout is not None else ()
    host_list, details["host"] = host_findings(objects, statuses, build_info)
    findings += host_list
    process_list, details["process"] = process_findings()
    findings += process_list
    return Report(tuple(findings), details, closures)

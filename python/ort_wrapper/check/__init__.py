"""``ort_wrapper.check``: prove a distribution is worth shipping.

Five sections, each a function that returns a ``Section`` of checks: ``linking`` (every shared
object resolves and runs on this host; the C API answers), ``providers`` (compiled in versus
actually usable), ``quality`` (ONNX backend conformance against a committed baseline, and
cross-provider agreement), ``determinism`` and ``stability``. ``run_check`` runs them on any
distribution (the installed onnxruntime wheel, a prefix with a manifest, a bundle) and never
raises for bad input: a broken distribution is a failed check with its reason. The results are
``ort_wrapper.report``'s model, the one ``doctor`` uses too (re-exported here).
"""

from __future__ import annotations

from ..report import FAIL, INFO, PASS, SKIP, WARN, Check, Report, Section, Table, render_text
from .options import SECTIONS, CheckOptions
from .run import run_check

__all__ = [
    "FAIL",
    "INFO",
    "PASS",
    "SECTIONS",
    "SKIP",
    "WARN",
    "Check",
    "CheckOptions",
    "Report",
    "Section",
    "Table",
    "render_text",
    "run_check",
]

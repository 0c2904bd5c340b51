"""The readable form of a report: findings grouped by section, each with its fact and fix,
then every provider's dependency closure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .findings import SECTIONS, SEVERITIES, Report

__all__ = ["render_text"]

_MARK = {"ok": "ok", "warning": "WARN", "error": "ERROR"}


def _closure_lines(title: str, library: str | None, closure: list[Mapping[str, Any]]) -> list[str]:
    lines = [f"  {title}: {library or '(built in)'}"]
    host = [e["soname"] for e in closure if e["host"]]
    for entry in closure:
        if entry["soname"] in host:
            continue
        where = entry["path"] or "NOT FOUND"
        lines.append(f"    {entry['soname']:<24} {where}  [{entry['from']}]")
        if entry["path"] is None:
            lines.append(f"      needed by {', '.join(entry['neededBy'])}")
            lines.append(f"      provided by: {' | '.join(entry.get('provides', ()))}")
    if host:
        lines.append(f"    host-provided (glibc, loader, C++ runtime): {', '.join(host)}")
    return lines


def render_text(report: Report) -> str:
    """The table: severity, section, fact and fix; a summary; the closures."""
    lines = []
    expected = report.details.get("distributions", {}).get("expectedVersion")
    if expected:
        lines.append(f"ort-wrapper doctor (this toolkit builds ONNX Runtime {expected})")
    for section in SECTIONS:
        found = [f for f in report.findings if f.section == section]
        if not found:
            continue
        lines.append(f"\n{section}")
        for finding in found:
            lines.append(f"  {_MARK[finding.severity]:<5} {finding.fact}")
            if finding.fix:
                lines.append(f"  {'':<5} fix: {finding.fix}")
    providers = report.details.get("providers") or {}
    core = providers.get("core")
    blocks = []
    if core:
        blocks += _closure_lines("core", core["library"], core["closure"])
    for status in providers.get("providers", ()):
        if status["library"]:
            blocks += _closure_lines(status["name"], status["library"], status["closure"])
    if blocks:
        lines += ["\nclosures (soname, path, where the loader finds it)", *blocks]
    counts = ", ".join(f"{report.count(s)} {s}" for s in SEVERITIES)
    verdict = "nothing is an error" if report.exit_code == 0 else "fix the errors above"
    lines.append(f"\n{counts}: {verdict}")
    return "\n".join(lines) + "\n"

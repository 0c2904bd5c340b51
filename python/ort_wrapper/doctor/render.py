"""The readable form of a report: findings grouped by section, each with its fact and fix,
then every provider's dependency closure."""

from __future__ import annotations

from ..runtime.catalog import soname_source
from .findings import SECTIONS, SEVERITIES, Listing, Report
from .providers import host_provided, where_from

__all__ = ["render_text"]

_MARK = {"ok": "ok", "warning": "WARN", "error": "ERROR"}


def _closure_lines(listing: Listing) -> list[str]:
    lines = [f"  {listing.title}: {listing.library}"]
    libraries = listing.closure.libraries.values() if listing.closure else ()
    host = [lib.soname for lib in libraries if host_provided(lib)]
    for lib in libraries:
        if lib.soname in host:
            continue
        lines.append(f"    {lib.soname:<24} {lib.path or 'NOT FOUND'}  [{where_from(lib)}]")
        if lib.path is None:
            lines.append(f"      needed by {', '.join(lib.needed_by)}")
            lines.append(f"      provided by: {' | '.join(soname_source(lib.soname).hints)}")
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
    blocks = [line for listing in report.closures for line in _closure_lines(listing)]
    if blocks:
        lines += ["\nclosures (soname, path, where the loader finds it)", *blocks]
    counts = ", ".join(f"{report.count(s)} {s}" for s in SEVERITIES)
    verdict = "nothing is an error" if report.exit_code == 0 else "fix the errors above"
    lines.append(f"\n{counts}: {verdict}")
    return "\n".join(lines) + "\n"

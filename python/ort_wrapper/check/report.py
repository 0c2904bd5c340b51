"""The check report: checks grouped in sections, rendered as text tables and as JSON.

A section's JSON form is also how the worker process hands its results back, so ``to_json`` and
``from_json`` are exact inverses.
"""

from __future__ import annotations

import enum
import logging
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "FAIL",
    "INFO",
    "PASS",
    "SKIP",
    "STATUSES",
    "Check",
    "Report",
    "Section",
    "Status",
    "Table",
    "announce",
    "failed_section",
    "format_table",
    "render_text",
]

log = logging.getLogger(__name__)


class Status(enum.StrEnum):
    """A check's verdict."""

    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"
    INFO = "info"


PASS, FAIL, SKIP, INFO = Status
STATUSES = tuple(Status)


@dataclass(frozen=True)
class Check:
    """One verdict: a name, pass/fail/skip/info, a one-line reason and the measured facts."""

    name: str
    status: Status
    detail: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"check status must be one of {STATUSES}, got {self.status!r}")
        object.__setattr__(self, "status", Status(self.status))  # the JSON form's string too

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        return {"name": self.name, "status": self.status, "detail": self.detail, "data": self.data}


@dataclass(frozen=True)
class Table:
    """Facts for the reader: a title, column names and rows of strings."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "title": self.title,
            "columns": list(self.columns),
            "rows": [list(r) for r in self.rows],
        }


@dataclass(frozen=True)
class Section:
    """One section of the report (linking, providers, quality, determinism, stability)."""

    name: str
    checks: tuple[Check, ...]
    tables: tuple[Table, ...] = ()
    seconds: float = 0.0

    @property
    def status(self) -> str:
        """'fail' if any check failed, 'skip' if every check was skipped, else 'pass'."""
        statuses = {c.status for c in self.checks}
        if FAIL in statuses:
            return FAIL
        if statuses and statuses <= {SKIP}:
            return SKIP
        return PASS

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "name": self.name,
            "status": self.status,
            "seconds": round(self.seconds, 3),
            "checks": [c.to_json() for c in self.checks],
            "tables": [t.to_json() for t in self.tables],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Section:
        """Rebuild a section from its JSON form."""
        return cls(
            name=data["name"],
            checks=tuple(
                Check(c["name"], c["status"], c.get("detail", ""), c.get("data", {}))
                for c in data["checks"]
            ),
            tables=tuple(
                Table(t["title"], tuple(t["columns"]), tuple(tuple(r) for r in t["rows"]))
                for t in data.get("tables", [])
            ),
            seconds=float(data.get("seconds", 0.0)),
        )


@dataclass(frozen=True)
class Report:
    """The whole report: what was checked and every section's verdicts."""

    distribution: Mapping[str, Any]
    sections: tuple[Section, ...]
    seconds: float

    @property
    def ok(self) -> bool:
        """True when no check failed."""
        return all(s.status != FAIL for s in self.sections)

    def section(self, name: str) -> Section:
        """The section called ``name`` (KeyError when it was not run)."""
        for section in self.sections:
            if section.name == name:
                return section
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        """The JSON form written by ``--json``."""
        return {
            "tool": "ort-wrapper check",
            "ok": self.ok,
            "seconds": round(self.seconds, 3),
            "distribution": dict(self.distribution),
            "sections": [s.to_json() for s in self.sections],
        }


def shortlist(names: Sequence[str], limit: int = 10) -> str:
    """'a, b, c and 7 more': a list bounded for one line of a report (JSON has them all)."""
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def announce(section: str, quiet: bool) -> None:
    """Say on stderr which section starts (progress for the sections without a bar)."""
    if not quiet:
        print(f"ort-wrapper check: {section} ...", file=sys.stderr, flush=True)


def failed_section(name: str, reason: str, check: str = "distribution") -> Section:
    """A section that could not run, with the reason."""
    return Section(name, (Check(check, FAIL, reason),))


def format_table(columns: Sequence[str], rows: Iterable[Sequence[str]], indent: str = "  ") -> str:
    """Left-aligned columns separated by two spaces; the last column is not padded."""
    rows = [tuple(str(v) for v in r) for r in rows]
    widths = [len(c) for c in columns]
    for row in rows:
        for i, value in enumerate(row[:-1]):
            widths[i] = max(widths[i], len(value))
    lines = []
    for row in (tuple(columns), tuple("-" * w for w in widths), *rows):
        cells = [v.ljust(widths[i]) for i, v in enumerate(row[:-1])] + [row[-1]]
        lines.append(indent + "  ".join(cells).rstrip())
    return "\n".join(lines)


def render_text(report: Report) -> str:
    """The readable report: a header, then a table of checks and the fact tables per section."""
    dist = report.distribution
    out = [f"ort-wrapper check: {dist.get('describe', dist.get('path', '?'))}"]
    for section in report.sections:
        out.append("")
        out.append(f"== {section.name}: {section.status.upper()} ({section.seconds:.1f} s)")
        out.append(
            format_table(
                ("status", "check", "detail"),
                ((c.status.upper(), c.name, c.detail) for c in section.checks),
            )
        )
        for table in (t for t in section.tables if t.rows):
            out.append(f"  -- {table.title}")
            out.append(format_table(table.columns, table.rows, indent="    "))
    counts = {
        s: sum(c.status == s for sec in report.sections for c in sec.checks) for s in STATUSES
    }
    verdict = "PASSED" if report.ok else "FAILED"
    out.append("")
    out.append(
        f"{verdict}: {counts[PASS]} passed, {counts[FAIL]} failed, {counts[SKIP]} skipped, "
        f"{counts[INFO]} informational, in {report.seconds:.1f} s"
    )
    return "\n".join(out)

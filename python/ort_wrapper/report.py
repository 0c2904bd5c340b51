"""The one result model of ``check`` and ``doctor``: checks in sections, as text and as JSON.

A :class:`Check` is one verdict (a :class:`Status`, one line of fact, one line of fix, the
measured facts); a :class:`Section` groups checks with fact tables; a :class:`Report` is every
section. :func:`render_text` is the one text form and ``to_json`` the one JSON form; a
section's JSON form is also how check's worker process hands results back, so ``to_json`` and
``from_json`` are exact inverses.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .escape import terminal_text

__all__ = [
    "FAIL",
    "INFO",
    "PASS",
    "SKIP",
    "STATUSES",
    "WARN",
    "Check",
    "Kind",
    "Report",
    "Section",
    "Status",
    "Table",
    "failed_section",
    "format_table",
    "render_text",
    "shortlist",
]


class Status(enum.StrEnum):
    """A check's verdict; only ``fail`` makes a report fail."""

    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    SKIP = "skip"  # not applicable, with the reason
    INFO = "info"  # reported, never judged


PASS, FAIL, WARN, SKIP, INFO = Status
STATUSES = tuple(Status)


class Kind(enum.StrEnum):
    """The name of a check whose meaning is fixed: every doctor finding and check's
    "manifest vs runtime providers" (one row each in docs/doctor.md, so scripts can match on
    them and the docs cannot drift)."""

    DIST_SELECTED = "dist.selected"
    DIST_STATIC = "dist.static"
    DIST_UNUSABLE = "dist.unusable"
    DIST_VERSION = "dist.version"
    DIST_CONFLICT = "dist.conflict"
    DIST_ENV = "dist.env"
    DIST_PROBE = "dist.probe"
    PROVIDER_MANIFEST = "provider.manifest"
    PROVIDER_BUILTIN = "provider.builtin"
    PROVIDER_USABLE = "provider.usable"
    PROVIDER_NEEDS_PRELOAD = "provider.needs-preload"
    PROVIDER_UNUSABLE = "provider.unusable"
    PROVIDER_LEFT_OUT = "provider.left-out"
    CORE_CLOSURE = "core.closure"
    HOST_GLIBC = "host.glibc"
    HOST_LIBSTDCXX = "host.libstdcxx"
    HOST_DRIVER = "host.driver"
    HOST_CUDA_RUNTIME = "host.cuda-runtime"
    PROCESS_ONNXRUNTIME = "process.onnxruntime"
    PROCESS_DUPLICATE = "process.duplicate"


@dataclass(frozen=True)
class Check:
    """One verdict: a name (a :class:`Kind`, or what was examined: a file, a provider, a
    model), a status, one line of fact, the measured facts and, when something needs doing,
    one line of fix."""

    name: str
    status: Status
    detail: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)
    fix: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"check status must be one of {STATUSES}, got {self.status!r}")
        object.__setattr__(self, "status", Status(self.status))  # the JSON form's string too

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "name": self.name,
            "status": self.status,
            "detail": self.detail,
            "fix": self.fix,
            "data": self.data,
        }


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
    """One section of a report (check: linking, providers, quality, ...; doctor:
    distributions, providers, host, process), with the structured facts behind it."""

    name: str
    checks: tuple[Check, ...]
    tables: tuple[Table, ...] = ()
    seconds: float = 0.0
    data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> Status:
        """'fail' if any check failed, 'skip' if every check was skipped, 'warn' if any
        warned, else 'pass'."""
        statuses = {c.status for c in self.checks}
        if FAIL in statuses:
            return FAIL
        if statuses and statuses <= {SKIP}:
            return SKIP
        return WARN if WARN in statuses else PASS

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "name": self.name,
            "status": self.status,
            "seconds": round(self.seconds, 3),
            "checks": [c.to_json() for c in self.checks],
            "tables": [t.to_json() for t in self.tables],
            "data": dict(self.data),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Section:
        """Rebuild a section from its JSON form."""
        return cls(
            name=data["name"],
            checks=tuple(
                Check(
                    c["name"], c["status"], c.get("detail", ""), c.get("data", {}), c.get("fix", "")
                )
                for c in data["checks"]
            ),
            tables=tuple(
                Table(t["title"], tuple(t["columns"]), tuple(tuple(r) for r in t["rows"]))
                for t in data.get("tables", [])
            ),
            seconds=float(data.get("seconds", 0.0)),
            data=data.get("data", {}),
        )


@dataclass(frozen=True)
class Report:
    """Every section's verdicts: which tool made them, about what (one line), how long it took,
    and facts about the whole run (``data``, e.g. check's distribution)."""

    tool: str
    subject: str
    sections: tuple[Section, ...]
    seconds: float = 0.0
    data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no check failed."""
        return all(s.status != FAIL for s in self.sections)

    @property
    def exit_code(self) -> int:
        """0 when no check failed, 1 otherwise."""
        return 0 if self.ok else 1

    @property
    def checks(self) -> tuple[Check, ...]:
        """Every check of every section."""
        return tuple(c for s in self.sections for c in s.checks)

    def of(self, name: str) -> tuple[Check, ...]:
        """The checks called ``name`` (a :class:`Kind`, say)."""
        return tuple(c for c in self.checks if c.name == name)

    def count(self, status: Status) -> int:
        """How many checks have ``status``."""
        return sum(1 for c in self.checks if c.status == status)

    def section(self, name: str) -> Section:
        """The section called ``name`` (KeyError when it was not run)."""
        for section in self.sections:
            if section.name == name:
                return section
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        """The JSON form written by ``--json``."""
        return {
            "tool": self.tool,
            "subject": self.subject,
            "ok": self.ok,
            "summary": {s: self.count(s) for s in STATUSES},
            "seconds": round(self.seconds, 3),
            **dict(self.data),
            "sections": [s.to_json() for s in self.sections],
        }


def shortlist(names: Sequence[str], limit: int = 10) -> str:
    """'a, b, c and 7 more': a list bounded for one line of a report (JSON has them all)."""
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


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
    return terminal_text("\n".join(lines))


def _rows(checks: Iterable[Check]) -> list[tuple[str, str, str]]:
    """A row per check, and a row for its fix under its detail."""
    rows = []
    for c in checks:
        rows.append((c.status.upper(), c.name, c.detail))
        if c.fix:
            rows.append(("", "", f"fix: {c.fix}"))
    return rows


def render_text(report: Report) -> str:
    """The readable report: a header, then per section a table of checks (each fix on the line
    below its check) and the fact tables, then the counts."""
    out = [f"{report.tool}: {report.subject}"]
    for section in report.sections:
        took = f" ({section.seconds:.1f} s)" if section.seconds else ""
        out += ["", f"== {section.name}: {section.status.upper()}{took}"]
        out.append(format_table(("status", "check", "detail"), _rows(section.checks)))
        for table in (t for t in section.tables if t.rows):
            out.append(f"  -- {table.title}")
            out.append(format_table(table.columns, table.rows, indent="    "))
    n = {s: report.count(s) for s in STATUSES}
    out.append("")
    out.append(
        f"{'PASSED' if report.ok else 'FAILED'}: {n[PASS]} passed, {n[FAIL]} failed, "
        f"{n[WARN]} warned, {n[SKIP]} skipped, {n[INFO]} informational, "
        f"in {report.seconds:.1f} s"
    )
    return terminal_text("\n".join(out))

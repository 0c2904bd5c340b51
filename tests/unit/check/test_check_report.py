"""The report model: section verdicts, the JSON round trip the worker relies on, the text form."""

from __future__ import annotations

import pytest

from ort_wrapper.check import (
    FAIL,
    INFO,
    PASS,
    SKIP,
    Check,
    CheckOptions,
    Report,
    Section,
    Table,
    render_text,
)
from ort_wrapper.report import failed_section, format_table


def test_section_status_is_fail_when_any_check_fails() -> None:
    assert Section("s", (Check("a", PASS), Check("b", INFO))).status == PASS
    assert Section("s", (Check("a", PASS), Check("b", FAIL))).status == FAIL
    assert Section("s", (Check("a", SKIP),)).status == SKIP
    assert Section("s", (Check("a", SKIP), Check("b", PASS))).status == PASS


def test_unknown_status_is_refused() -> None:
    with pytest.raises(ValueError, match="status"):
        Check("a", "maybe")


def test_section_json_round_trip() -> None:
    section = Section(
        "linking",
        (Check("x", FAIL, "missing: libfoo.so.1", {"missing": ["libfoo.so.1"]}, "get it"),),
        (Table("t", ("a", "b"), (("1", "2"),)),),
        1.25,
        {"facts": [1]},
    )
    assert Section.from_json(section.to_json()) == section


def test_report_ok_and_text() -> None:
    report = Report(
        "ort-wrapper check",
        "here",
        (Section("a", (Check("c", PASS, "fine"),)), failed_section("b", "broken")),
        2.0,
        {"distribution": {"describe": "here"}},
    )
    assert not report.ok
    text = render_text(report)
    assert "== b: FAIL" in text and "broken" in text
    assert text.splitlines()[-1].startswith("FAILED: 1 passed, 1 failed")
    assert report.to_json()["ok"] is False
    assert report.to_json()["distribution"] == {"describe": "here"}
    assert report.section("a").status == PASS
    with pytest.raises(KeyError):
        report.section("zzz")


def test_format_table_aligns_columns() -> None:
    lines = format_table(("name", "value"), (("a", "1"), ("longer", "2")), indent="").splitlines()
    assert lines[0] == "name    value"
    assert lines[3] == "longer  2"


def test_options_refuse_unknown_sections_and_bad_counts() -> None:
    with pytest.raises(ValueError, match="unknown section"):
        CheckOptions(sections=("linking", "speed"))
    with pytest.raises(ValueError, match="at least 1"):
        CheckOptions(stability_runs=0)
    options = CheckOptions(sections=("quality",), stability_runs=5)
    assert CheckOptions.from_json(options.to_json()) == options

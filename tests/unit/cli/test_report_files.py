"""``check``/``doctor`` ``--json FILE``: a report file that cannot be written is an OutputError
that the one CLI handler prints as ``cannot write FILE: why`` with exit 2, before any work."""

from __future__ import annotations

from pathlib import Path

import pytest

from ort_wrapper.cli import main
from ort_wrapper.cli.reportfile import refuse_unwritable, write_report
from ort_wrapper.errors import OutputError


def test_check_refuses_a_report_under_a_file_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("x")
    out = tmp_path / "file" / "r.json"
    assert main(["check", "--only", "linking", "--quiet", "--json", str(out)]) == 2
    said = capsys.readouterr()
    assert said.err.startswith(f"ort-wrapper check: cannot write {out}: ")
    assert "== linking" not in said.out and not out.parent.is_dir()


def test_doctor_refuses_a_directory_and_verbose_raises_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["doctor", "--json", "/"]) == 2
    assert capsys.readouterr().err == "ort-wrapper doctor: cannot write /: is a directory\n"
    with pytest.raises(OutputError, match="cannot write /: is a directory") as raised:
        main(["doctor", "--verbose", "--json", "/"])
    assert raised.value.path == Path("/") and raised.value.reason == "is a directory"


def test_a_report_that_is_an_input_is_refused(tmp_path: Path) -> None:
    model = tmp_path / "m.onnx"
    model.write_bytes(b"")
    with pytest.raises(OutputError, match=f"cannot write {model}: is the input {model}"):
        refuse_unwritable(model, [model])
    refuse_unwritable(tmp_path / "r.json", [model])  # a new file beside it is fine


def test_a_failed_write_names_the_report_not_a_temporary_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    out = tmp_path / "file" / "r.json"
    with pytest.raises(OutputError, match=rf"^cannot write {out}: \S") as raised:
        write_report(out, {"ok": True})
    assert isinstance(raised.value.__cause__, OSError)
    write_report(tmp_path / "r.json", {"ok": True})
    assert (tmp_path / "r.json").read_text().startswith("{")

"""link-check on a finalized static distribution (the miniature build): a C consumer that
links and runs is judged fine (no false alarm), through ``--dist`` as a user calls it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import MAIN_C, FakeBuild, link_and_run

from ort_wrapper.cli import main
from ort_wrapper.finalize.stage import finalize
from ort_wrapper.matrix import load_matrix

CPU = load_matrix().variant("cpu")


def _main_object(work: Path, *flags: str) -> Path:
    src = work / "consumer.c"
    src.write_text(MAIN_C)
    obj = work / "consumer.o"
    subprocess.run(["cc", "-c", *flags, str(src), "-o", str(obj)], check=True)
    return obj


def test_a_consumer_that_links_is_not_flagged(
    fake_build: FakeBuild, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    finalize(fake_build.prefix, fake_build.build_dir, CPU, fake_build.out, prune=True)
    archive = fake_build.out / "lib/libonnxruntime.a"
    assert link_and_run([str(archive)], tmp_path).stdout.strip() == "34"
    obj = _main_object(tmp_path)
    assert main(["link-check", "--dist", str(fake_build.out), str(obj)]) == 0
    out = capsys.readouterr().out
    assert "PASSED" in out and "position independence: PASS" in out

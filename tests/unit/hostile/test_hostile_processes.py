"""Interruptions, odd output paths and retries: Ctrl-C leaves nothing behind and prints no
traceback, an output that is not a plain file is refused without being opened, messages name
the user's path (never a temporary file), wheels are byte-reproducible, and a retried init()
explains the mixed-runtime problem."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

from ort_wrapper.bundle.wheel import make_wheel
from ort_wrapper.errors import BundleError

from helpers import CLI, run_fresh
from support.bundles import age_tree, cpu_package, small_elf
from support.hostile import NO_DAC_OVERRIDE, assert_refused, cli, python_env, running_below


def _interrupt_when(
    proc: subprocess.Popen[str], needle: str, after: float, group: bool = True
) -> tuple[str, str]:
    """SIGINT to ``proc``'s process group (Ctrl-C in a terminal), or to ``proc`` alone,
    ``after`` seconds into the first descendant whose command line holds ``needle``; its
    output."""
    deadline = time.monotonic() + 240
    while not running_below(proc.pid, needle):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{needle} never started"
        time.sleep(0.05)
    time.sleep(after)
    (os.killpg if group else os.kill)(proc.pid, signal.SIGINT)
    return proc.communicate(timeout=120)


def _popen(*args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=python_env(**env),
        start_new_session=True,  # its own process group, as a shell gives a command
    )


def test_ctrl_c_during_check_prints_no_traceback() -> None:
    proc = _popen("check", "--only", "stability", "--runs", "100000000", "--quiet")
    _, err = _interrupt_when(proc, "ort_wrapper.check.worker", after=2.0)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert "ort-wrapper check: interrupted" in err


@pytest.mark.parametrize("group", [True, False], ids=["process-group", "wheel-alone"])
def test_ctrl_c_during_wheel_leaves_nothing_behind(tmp_path: Path, group: bool) -> None:
    """Signalled alone, the command stops auditwheel with SIGKILL (after Python's 0.25 s grace),
    which leaves auditwheel's unpacked wheel behind in TMPDIR unless TMPDIR is ours."""
    scratch, out = tmp_path / "tmp", tmp_path / "wheels"
    scratch.mkdir()
    proc = _popen("wheel", "--dist", str(cpu_package()), "--out-dir", str(out), TMPDIR=str(scratch))
    _, err = _interrupt_when(proc, "auditwheel", after=1.0, group=group)
    assert proc.returncode == 130, err
    assert list(scratch.iterdir()) == []
    assert not out.exists(), list(out.rglob("*"))


def test_a_failed_wheel_leaves_no_out_dir(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="no such file or directory"):
        make_wheel(tmp_path / "missing", tmp_path / "new" / "wheels", quiet=True)
    assert not (tmp_path / "new").exists()


def test_wheels_are_byte_reproducible_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    src = tmp_path / "src"
    small_elf(src, "libfoo.so")
    first = make_wheel(src, tmp_path / "one", quiet=True).path
    age_tree(src)  # an input's date, had it leaked, now differs (no sleep for the clock:)
    second = make_wheel(src, tmp_path / "two", quiet=True).path
    assert first.name == second.name
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as wheel:  # every entry has the fixed date, never the clock's
        assert {i.date_time for i in wheel.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_check_json_to_a_fifo_is_refused_without_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "report.json"
    os.mkfifo(fifo)
    proc = cli("check", "--only", "linking", "--quiet", "--json", str(fifo), timeout=60)
    assert_refused(proc, f"cannot write {fifo}: is not a regular file")


def test_check_json_to_a_dangling_symlink_is_refused(run_cli, tmp_path: Path) -> None:
    link, target = tmp_path / "report.json", tmp_path / "elsewhere" / "target.json"
    target.parent.mkdir()
    link.symlink_to(target)
    proc = run_cli("check", "--only", "linking", "--quiet", "--json", str(link))
    assert_refused(proc, f"cannot write {link}: is a symbolic link")
    assert link.is_symlink() and not target.exists()


def test_doctor_json_to_a_directory_names_it(run_cli, tmp_path: Path) -> None:
    proc = run_cli("doctor", "--json", "/")
    assert_refused(proc, "cannot write /: is a directory")
    assert "/.." not in proc.stderr and "Errno" not in proc.stderr, proc.stderr


def test_init_retry_after_a_late_failure_explains_the_mixed_runtime(
    tmp_path: Path, make_wheel_prefix
) -> None:
    broken = make_wheel_prefix(tmp_path / "broken")
    init_py = broken / "python" / "onnxruntime" / "__init__.py"
    init_py.write_text(init_py.read_text() + '\nraise RuntimeError("fails after the import")\n')
    code = (
        "import ort_wrapper\n"
        "from ort_wrapper.errors import InitError\n"
        f"for dist in ({str(broken)!r}, None):\n"
        "    try:\n        ort_wrapper.init(dist)\n"
        "    except InitError as exc:\n        print(exc)\n"
    )
    done = run_fresh(code)  # a native module once loaded stays: a process of its own
    first, second = done.stdout.splitlines()[:2]
    assert "fails after the import" in first, done.stdout + done.stderr
    assert "native module is already loaded in this process from" in second, second
    assert "two ONNX Runtimes in one process" in second and "already registered" not in second


def test_an_unwritable_output_names_the_users_path_not_a_temporary_file(tmp_path: Path) -> None:
    """atomic_file (every atomic write: run -o, check --json, doctor --json, manifests) names
    the path it was asked to write."""
    import numpy as np

    import models

    model = models.save(models.add_model(), tmp_path / "add.onnx")
    for name in "XY":
        np.save(tmp_path / f"{name}.npy", np.ones((2, 3), np.float32))
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    inputs = [f"{n}={tmp_path / n}.npy" for n in "XY"]
    proc = cli(
        "run", str(model), "-i", inputs[0], "-i", inputs[1], "-o", str(locked),
        prefix=NO_DAC_OVERRIDE,
    )  # fmt: skip
    assert_refused(proc, str(locked / "Z.npy"), f"directory {locked} is not writable")
    assert ".Z.npy." not in proc.stderr, proc.stderr
    assert list(locked.iterdir()) == []

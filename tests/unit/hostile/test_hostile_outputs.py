"""Outputs through the one writer (``files.py``): never over an input, never over what appeared
during the run, never wider than the source or the umask, names checked before the first byte;
each case through the CLI (or the function the CLI calls) with nothing else touched."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper

import ort_wrapper.bundle.write as bundle_write
from ort_wrapper.bundle.wheel import make_wheel
from ort_wrapper.bundle.write import make_bundle
from ort_wrapper.errors import BundleError
from ort_wrapper.files import new_directory, sha256_file

import models
from support.bundles import small_elf
from support.hostile import assert_refused, changed, cli, small_prefix, snapshot


def _model(tmp_path: Path) -> Path:
    return models.save(models.add_model(), tmp_path / "m.onnx")


@pytest.mark.parametrize("how", ["same path", "hard link"])
def test_reduce_config_refuses_an_out_that_is_its_model(run_cli, tmp_path: Path, how: str) -> None:
    model = _model(tmp_path)
    out = model if how == "same path" else tmp_path / "config.txt"
    if how == "hard link":
        os.link(model, out)
    before = snapshot(tmp_path)
    proc = run_cli("reduce-config", str(model), "--out", str(out))
    assert_refused(proc, f"--out {out} is the input {model}", "nothing was written")
    assert changed(before, snapshot(tmp_path)) == []


def test_check_refuses_a_json_that_is_its_model(run_cli, tmp_path: Path) -> None:
    model = _model(tmp_path)
    before = snapshot(tmp_path)
    proc = run_cli("check", "--only", "linking", "-q", "--model", str(model), "--json", str(model))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert_refused(proc, f"cannot write {model}: is the input {model}")
    assert changed(before, snapshot(tmp_path)) == []


def test_a_directory_put_at_out_during_the_run_is_left_alone(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with (
        pytest.raises(BundleError, match=r"--out .*out changed during the run: it is not"),
        new_directory(out, BundleError, lambda _: "is not an earlier output") as tmp,
    ):
        (tmp / "new.txt").write_text("ours")
        out.mkdir()
        (out / "theirs.txt").write_text("theirs")
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert [p.name for p in out.iterdir()] == ["theirs.txt"]


def test_bundle_keeps_a_directory_made_at_out_while_it_ran(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another program makes --out while the bundle is being written (here: when the copies'
    RUNPATHs are set): the bundle is refused at the rename and that directory survives."""
    src, out = small_prefix(tmp_path / "src"), tmp_path / "out"
    real = bundle_write.set_runpath

    def meanwhile(path: Path, runpath: str) -> bool:
        if not out.exists():
            out.mkdir()
            (out / "mine.txt").write_text("someone else's work")
        return real(path, runpath)

    monkeypatch.setattr(bundle_write, "set_runpath", meanwhile)
    with pytest.raises(BundleError, match=r"changed during the run.*nothing was written"):
        make_bundle(src, out, quiet=True)
    assert (out / "mine.txt").read_text() == "someone else's work"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "src"]


def test_a_private_file_and_a_hard_link_to_it_stay_private_in_a_bundle(tmp_path: Path) -> None:
    secret = tmp_path / "src" / "share" / "secret.txt"
    secret.parent.mkdir(parents=True)
    secret.write_text("private")
    secret.chmod(0o600)
    os.link(secret, secret.with_name("link.txt"))
    digest = sha256_file(secret)
    entries = [
        {"path": f"share/{n}", "kind": "data", "sha256": digest} for n in ("secret.txt", "link.txt")
    ]
    src = small_prefix(tmp_path / "src", entries)
    make_bundle(src, tmp_path / "out", quiet=True)
    for name in ("secret.txt", "link.txt"):
        assert stat.S_IMODE((tmp_path / "out" / "share" / name).stat().st_mode) == 0o600


def _umask_077() -> None:
    os.umask(0o077)


def test_outputs_follow_a_umask_of_077(tmp_path: Path) -> None:
    model = _model(tmp_path)
    for name in "XY":
        np.save(tmp_path / f"{name}.npy", np.ones((2, 3), np.float32))
    runs = {
        "run": ["run", str(model), "-i", f"X={tmp_path}/X.npy", "-i", f"Y={tmp_path}/Y.npy",
                "-o", str(tmp_path / "o")],
        "reduce-config": ["reduce-config", str(model), "--out", str(tmp_path / "ops.config")],
        "doctor": ["doctor", "--json", str(tmp_path / "doctor.json")],
    }  # fmt: skip
    for verb, args in runs.items():
        proc = cli(*args, preexec_fn=_umask_077)
        assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr, (verb, proc.stderr)
    for path in (tmp_path / "o" / "Z.npy", tmp_path / "ops.config", tmp_path / "doctor.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_a_name_too_long_is_refused_before_any_output_is_written(run_cli, tmp_path: Path) -> None:
    long = "y" * 300
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [2])
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2]) for n in ("a", long)]
    nodes = [helper.make_node("Identity", ["X"], [n]) for n in ("a", long)]
    graph = helper.make_graph(nodes, "two", [x], outs)
    model = models.save(models._model(graph), tmp_path / "two.onnx")
    np.save(tmp_path / "x.npy", np.ones(2, np.float32))
    proc = run_cli("run", str(model), "-i", f"X={tmp_path}/x.npy", "-o", str(tmp_path / "o"))
    assert_refused(proc, f"output '{long}'", "has a name of 304 bytes")
    assert not (tmp_path / "o").exists() or list((tmp_path / "o").iterdir()) == []


def test_a_wheel_carries_a_comma_and_refuses_a_newline_in_a_file_name(tmp_path: Path) -> None:
    src = tmp_path / "src"
    small_elf(src, "libfoo,bar.so")
    wheel = make_wheel(src, tmp_path / "wheels", quiet=True).path
    with zipfile.ZipFile(wheel) as zf:
        assert "ort_wrapper/_bundle/lib/libfoo,bar.so" in zf.namelist()
    small_elf(src, "libfoo\nx.so")
    before = snapshot(tmp_path)
    refused = r"the file 'ort_wrapper/_bundle/lib/libfoo\\nx\.so' holds U\+000A"
    with pytest.raises(BundleError, match=refused):
        make_wheel(src, tmp_path / "wheels", quiet=True)
    assert changed(before, snapshot(tmp_path)) == []

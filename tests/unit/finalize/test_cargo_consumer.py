"""The Rust consumer's build.rs (examples/rust/build.rs) on the miniature build: cargo links
the static distribution with nothing but ``ort-wrapper link-flags --format cargo`` (a cycle
among the archives included) and the program runs. The real ORT is linked the same way in the
lab test (tests/smoke/test_consumers_lab.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXPECTED_OUTPUT, FakeBuild

from ort_wrapper.finalize.stage import finalize
from ort_wrapper.matrix import load_matrix

from helpers import REPO

MAIN_RS = """extern "C" {
    fn OrtGetApiBase(x: i32) -> i32;
}

fn main() {
    println!("{}", unsafe { OrtGetApiBase(1) });
}
"""


def test_cargo_links_the_static_distribution_through_build_rs(
    fake_build: FakeBuild, tmp_path: Path
) -> None:
    cargo = shutil.which("cargo")
    if cargo is None:
        pytest.skip("cargo is not installed here; the lab test builds examples/rust with Debian's")
    cpu = load_matrix().variant("cpu")
    finalize(fake_build.prefix, fake_build.build_dir, cpu, fake_build.out, prune=True)
    crate = tmp_path / "crate"
    (crate / "src").mkdir(parents=True)
    shutil.copy2(REPO / "examples/rust/Cargo.toml", crate / "Cargo.toml")
    shutil.copy2(REPO / "examples/rust/build.rs", crate / "build.rs")
    (crate / "src/main.rs").write_text(MAIN_RS)
    env = {
        **os.environ,
        "ORT_WRAPPER_DIST": str(fake_build.out),
        "ORT_WRAPPER": str(Path(sys.executable).with_name("ort-wrapper")),
        "CARGO_TARGET_DIR": str(tmp_path / "target"),
    }
    built = subprocess.run(
        [cargo, "build", "--offline", "--quiet"], cwd=crate, env=env, capture_output=True, text=True
    )
    assert built.returncode == 0, built.stderr
    ran = subprocess.run(
        [str(tmp_path / "target/debug/run-model")], capture_output=True, text=True, check=True
    )
    assert ran.stdout.strip() == EXPECTED_OUTPUT

"""``ort-wrapper env``: the consumer variables of a distribution, evaluated by a real shell and
used by real pkg-config and cc; bad input prints nothing a shell would evaluate."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import onnxruntime
import pytest
from conftest import EXPECTED_OUTPUT, MAIN_C, FakeBuild

from ort_wrapper.cli import main
from ort_wrapper.consumers import consumer_env
from ort_wrapper.finalize.stage import finalize
from ort_wrapper.matrix import load_matrix

CPU = load_matrix().variant("cpu")
WHEEL_CAPI = Path(onnxruntime.__file__).parent / "capi"


def _env_of(dist: Path, capsys) -> tuple[str, str]:
    code = main(["env", str(dist)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out, captured.err


def _bash(script: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_static_distribution(fake_build: FakeBuild, capsys) -> None:
    finalize(fake_build.prefix, fake_build.build_dir, CPU, fake_build.out, prune=True)
    root = fake_build.out.absolute()
    assert dict(consumer_env(root).variables) == {
        "ORT_WRAPPER_DIST": str(root),
        "ORT_LIB_LOCATION": f"{root}/lib",  # the folder holding libonnxruntime.a, as ort reads it
        "PKG_CONFIG_PATH": f"{root}/lib/pkgconfig",
        "CMAKE_PREFIX_PATH": str(root),
    }
    out, err = _env_of(root, capsys)
    assert err == ""
    shown = _bash(
        f'{out}\nprintf "%s\\n" "$ORT_LIB_LOCATION" "$PKG_CONFIG_PATH"',
        {"PATH": "/usr/bin:/bin", "PKG_CONFIG_PATH": "/x"},
    )
    assert shown.split() == [f"{root}/lib", f"{root}/lib/pkgconfig:/x"]  # prepended, not replaced


def test_pkg_config_libs_alone_link_a_static_distribution(
    fake_build: FakeBuild, tmp_path: Path, capsys
) -> None:
    """``pkg-config --libs`` without ``--static``, after ``eval "$(ort-wrapper env DIST)"``."""
    if shutil.which("pkg-config") is None:
        pytest.fail("pkg-config is required (tools/setup.sh installs pkgconf)")
    finalize(fake_build.prefix, fake_build.build_dir, CPU, fake_build.out, prune=True)
    out, _ = _env_of(fake_build.out, capsys)
    (tmp_path / "main.c").write_text(MAIN_C)
    script = f"{out}\ncc main.c -o main $(pkg-config --cflags --libs libonnxruntime) && ./main"
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"]},
        check=False,
    )
    assert done.stdout.strip() == EXPECTED_OUTPUT, done.stderr


def test_a_shared_library_folder(capsys) -> None:
    """The wheel's C library alone: linked dynamically, run with LD_LIBRARY_PATH; the missing
    link-time name is said (the wheel ships libonnxruntime.so.1.23.2 only)."""
    env = consumer_env(WHEEL_CAPI)
    assert dict(env.variables) == {
        "ORT_WRAPPER_DIST": str(WHEEL_CAPI),
        "ORT_LIB_LOCATION": str(WHEEL_CAPI),
        "ORT_PREFER_DYNAMIC_LINK": "1",
        "LD_LIBRARY_PATH": str(WHEEL_CAPI),
    }
    assert main(["env", str(WHEEL_CAPI), "--json"]) == 0
    captured = capsys.readouterr()
    shown = json.loads(captured.out)
    assert shown["linkMode"] == "shared" and shown["pathLists"] == ["LD_LIBRARY_PATH"]
    assert "has no libonnxruntime.so" in captured.err


@pytest.mark.parametrize("what", ["empty", "broken manifest", "missing"])
def test_bad_input_prints_nothing_to_evaluate(tmp_path: Path, capsys, what: str) -> None:
    dist = tmp_path / "dist"
    if what != "missing":
        dist.mkdir()
    if what == "broken manifest":
        manifest = dist / "share/ort-wrapper/manifest.json"
        manifest.parent.mkdir(parents=True)
        manifest.write_text('{"version": ')
    assert main(["env", str(dist)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert str(dist) in captured.err


def test_a_control_character_in_the_path_is_refused(
    fake_build: FakeBuild, tmp_path: Path, capsys
) -> None:
    finalize(fake_build.prefix, fake_build.build_dir, CPU, fake_build.out, prune=True)
    odd = tmp_path / "a\nexport EVIL=1"
    shutil.copytree(fake_build.out, odd)
    assert main(["env", str(odd)]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "control character" in captured.err


def test_pkg_config_cflags_find_both_header_spellings(
    fake_build: FakeBuild, tmp_path: Path, capsys
) -> None:
    """``<onnxruntime_c_api.h>`` and ``<onnxruntime/onnxruntime_c_api.h>``, as with Debian's
    package (where /usr/include makes the second work)."""
    finalize(fake_build.prefix, fake_build.build_dir, CPU, fake_build.out, prune=True)
    out, _ = _env_of(fake_build.out, capsys)
    source = tmp_path / "both.c"
    source.write_text(
        "#include <onnxruntime_c_api.h>\n#include <onnxruntime/onnxruntime_c_api.h>\n"
        "int main(void) { return 0; }\n"
    )
    _bash(
        f"{out}\ncc -c {source} -o {tmp_path}/both.o $(pkg-config --cflags libonnxruntime)",
        {"PATH": os.environ["PATH"]},
    )

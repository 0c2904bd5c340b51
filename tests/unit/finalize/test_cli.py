"""The verbs ``finalize`` and ``link-flags`` as a Nix install phase or a build.rs uses them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import EXPECTED_OUTPUT, FakeBuild, link_and_run

from ort_wrapper.cli import main
from ort_wrapper.manifest import load_manifest


def _finalize(fake_build: FakeBuild, *extra: str) -> int:
    return main(
        [
            "finalize",
            str(fake_build.prefix),
            "--build-dir",
            str(fake_build.build_dir),
            "--variant",
            "cpu",
            "--out",
            str(fake_build.out),
            *extra,
        ]
    )


def test_finalize_records_source_and_patches(fake_build: FakeBuild, capsys) -> None:
    code = _finalize(
        fake_build,
        "--prune",
        "--source-hash",
        "sha256-abc=",
        "--patches-applied",
        "0001-a.patch",
        "--patches-applied",
        "0002-b.patch",
    )
    assert code == 0
    assert "ONNX Runtime 1.21.0, variant cpu (static)" in capsys.readouterr().out
    extra = load_manifest(fake_build.out).extra
    assert extra["source"] == {"hash": "sha256-abc="}
    assert [p["patch"] for p in extra["patches"]] == ["0001-a.patch", "0002-b.patch"]


def test_finalize_errors_are_one_line(fake_build: FakeBuild, capsys) -> None:
    code = main(
        [
            "finalize",
            str(fake_build.prefix),
            "--build-dir",
            "/nonexistent",
            "--variant",
            "gpu",
            "--out",
            str(fake_build.out),
        ]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("ort-wrapper finalize: error: unknown variant 'gpu'")
    assert "Traceback" not in err


def test_finalize_without_out_says_why_it_is_needed(fake_build: FakeBuild, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["finalize", str(fake_build.prefix), "--build-dir", "b", "--variant", "cpu"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert (
        "error: --out DIR is required: finalize writes a new distribution there and never " in err
    )
    assert not fake_build.out.exists()


def test_link_flags_formats(fake_build: FakeBuild, tmp_path: Path, capsys) -> None:
    assert _finalize(fake_build, "--prune") == 0
    capsys.readouterr()
    prefix = fake_build.out.resolve()

    assert main(["link-flags", str(fake_build.out), "--format", "json"]) == 0
    flags = json.loads(capsys.readouterr().out)
    assert flags[0] == f"{prefix}/lib/libonnxruntime.a"
    done = link_and_run(flags, tmp_path)
    assert done.stdout.strip() == EXPECTED_OUTPUT, done.stderr

    assert main(["link-flags", str(fake_build.out)]) == 0
    assert capsys.readouterr().out.split() == flags

    assert main(["link-flags", str(fake_build.out), "--format", "cmake"]) == 0
    assert capsys.readouterr().out.strip().split(";") == flags

    assert main(["link-flags", str(fake_build.out), "--format", "cargo", "--as-path", "/d"]) == 0
    lines = capsys.readouterr().out.split()
    assert lines[0] == "cargo:rustc-link-search=native=/d/lib"
    assert lines[1] == "cargo:rustc-link-lib=static=onnxruntime"
    assert lines[2:] == [
        f"cargo:rustc-link-lib=dylib={n}" for n in ("stdc++", "m", "dl", "pthread")
    ]


def test_link_flags_of_something_that_is_not_a_distribution(tmp_path: Path, capsys) -> None:
    assert main(["link-flags", str(tmp_path)]) == 1
    assert "is not a distribution" in capsys.readouterr().err


def test_link_flags_of_a_distribution_that_records_none(tmp_path: Path, capsys) -> None:
    """A shared distribution with no flags and no library to link: say so, print nothing."""
    from ort_wrapper.manifest import Manifest

    Manifest("1.23.2", "cpu", "shared", ("CPUExecutionProvider",), files=()).write(tmp_path)
    assert main(["link-flags", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "records no link flags and lists no libonnxruntime.so* to link" in captured.err


def test_help_says_which_verb_prunes(capsys) -> None:
    for verb in ("finalize", "build"):
        with pytest.raises(SystemExit):
            main([verb, "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "off by default here" in out and "build prunes by default" in out


@pytest.mark.parametrize("verb", ["finalize", "link-flags", "build"])
def test_help(verb: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([verb, "--help"])
    assert exit_.value.code == 0
    assert "usage: ort-wrapper" in capsys.readouterr().out

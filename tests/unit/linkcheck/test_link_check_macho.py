"""link-check on Mach-O objects made with Debian's clang (``-target arm64-apple-macosN``) in
BSD-format archives: the deployment-target warnings equal ld64.lld's, member by member (only a
loaded member is judged), and a truncated Mach-O object is an error naming it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ort_wrapper.linkcheck import link_check

pytestmark = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("clang", "llvm-ar")), reason="needs clang and llvm-ar"
)


def _ld64() -> str:
    """ld64.lld, or Debian's versioned ld64.lld-N."""
    for folder in os.environ["PATH"].split(os.pathsep):
        for path in sorted(Path(folder).glob("ld64.lld*")) if Path(folder).is_dir() else ():
            return str(path)
    pytest.skip("needs ld64.lld (Debian's lld)")


def _cc(folder: Path, name: str, source: str, macos: str) -> Path:
    src = folder / f"{name}.c"
    src.write_text(source)
    out = folder / f"{name}.o"
    target = f"arm64-apple-macos{macos}"
    subprocess.run(["clang", "-target", target, "-c", str(src), "-o", str(out)], check=True)
    return out


@pytest.fixture(scope="module")
def macho(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("macho")
    main = _cc(d, "main13", "int b(void);\nint main(void) { return b(); }\n", "13")
    new = _cc(d, "b14", "int b(void) { return 2; }\n", "14")
    spare = _cc(d, "spare15", "int spare(void) { return 3; }\n", "15")
    old = _cc(d, "b12", "int b(void) { return 2; }\n", "12")
    for name, members in (("libnew.a", [new, spare]), ("libold.a", [old, spare])):
        cmd = ["llvm-ar", "--format=darwin", "rcs", str(d / name), *map(str, members)]
        subprocess.run(cmd, check=True)
    return {"main": main, "libnew": d / "libnew.a", "libold": d / "libold.a"}


def _lld_warnings(inputs: list[Path], minimum: str) -> set[str]:
    cmd = [_ld64(), "-arch", "arm64", "-platform_version", "macos", minimum, minimum, "-dylib"]
    cmd += ["-undefined", "dynamic_lookup", "-o", str(inputs[0].parent / "out.dylib")]
    done = subprocess.run([*cmd, *map(str, inputs)], capture_output=True, text=True, check=True)
    return {Path(m).name for m in re.findall(r"warning: (\S+) has version", done.stderr)}


@pytest.mark.parametrize("library", ["libnew", "libold"])
@pytest.mark.parametrize("minimum", ["13.0", "14.0"])
def test_deployment_warnings_equal_ld64_lld(
    macho: dict[str, Path], library: str, minimum: str
) -> None:
    inputs = [macho["main"], macho[library]]
    report = link_check(inputs, target_os_min=minimum)
    ours = {
        Path(c.name).name for c in report.section("deployment target").checks if c.status == "warn"
    }
    assert ours == _lld_warnings(inputs, minimum)
    assert report.ok  # a warning, as ld's: the link succeeds


def test_the_newer_member_is_named(macho: dict[str, Path]) -> None:
    report = link_check([macho["main"], macho["libnew"]], target_os_min="13.0")
    [warn] = [c for c in report.checks if c.status == "warn"]
    assert warn.name.endswith("libnew.a(b14.o)") and "14.0.0" in warn.detail


def test_truncated_macho_object(macho: dict[str, Path], tmp_path: Path) -> None:
    cut = tmp_path / "cut.o"
    cut.write_bytes(macho["main"].read_bytes()[:100])
    report = link_check([cut, macho["libnew"]])
    [bad] = report.of(str(cut))
    assert bad.status == "fail" and "truncated Mach-O" in bad.detail

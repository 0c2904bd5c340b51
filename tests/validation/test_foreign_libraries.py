"""Real ONNX Runtime libraries of other releases and other systems, diagnosed by ``doctor`` and
``check``'s linking section from their files before anything loads (issue 22, items 4 and 5):

- Debian trixie's ``libonnxruntime1.21`` extracted alone: built for glibc 2.38, and seven of
  the libraries it needs (eight with its DNNL provider) are not on this host. Both tools name
  every one of them and GLIBC_2.38 against the host's, exit 1, and never say the folder lacks
  the library it holds.
- The same with its Depends extracted beside it: nothing missing once LD_LIBRARY_PATH names the
  folder, but the dependencies need GLIBC_2.38 and GLIBCXX_3.4.32 too, and are named.
- PyPI's ``onnxruntime==1.20.1`` C library: another release than the pin is information in
  both tools (the same ``dist.version`` check, C API 20 against 23), exit 0 in both.

Runs on a host older than glibc 2.38 (the project's bookworm machines); skipped on a newer one,
where trixie's library is not too new.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from ort_wrapper.elf.versions import host_versions, parse_version
from ort_wrapper.errors import InitError
from ort_wrapper.matrix import api_version_for, load_matrix
from ort_wrapper.runtime.distribution import locate

from helpers import cli, python_env
from support.real_libraries import old_wheel_library_dir, trixie_library_root
from support.reports import checks, data

REPO = Path(__file__).resolve().parents[2]
LIBDIR = "usr/lib/x86_64-linux-gnu"
# what libonnxruntime.so.1.21.0 needs that bookworm does not have (readelf -d)
CORE_MISSING = (
    "libXNNPACK.so.0.20241108",
    "libpthreadpool.so.0",
    "libonnx.so.1",
    "libonnx_proto.so.1",
    "libprotobuf.so.32",
    "libcpuinfo.so.0",
    "libre2.so.11",
)

too_new = pytest.mark.skipif(
    (parse_version(host_versions().get("GLIBC", "GLIBC_0")) or ("", (0,)))[1] >= (2, 38),
    reason="this host's glibc is 2.38 or newer: trixie's library is not too new for it",
)


def _cli(verb: str, *args: str, **env: str) -> tuple[int, dict[str, Any]]:
    """Run ``ort-wrapper VERB ... --json FILE`` in a child; its exit status and report."""
    out = Path(os.environ.get("TMPDIR", "/tmp")) / f"foreign-{os.getpid()}-{verb}.json"
    full = python_env(**{"LD_LIBRARY_PATH": None, **env})
    done = cli(verb, *args, "--json", str(out), env=full, timeout=600, cwd=REPO)
    assert "Traceback" not in done.stderr, done.stderr
    report = json.loads(out.read_text())
    out.unlink()
    return done.returncode, report


def _named(report: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [c for c in checks(report) if c["name"] == name]


@pytest.fixture(scope="module")
def bare() -> Path:
    return trixie_library_root(with_dependencies=False)


@pytest.fixture(scope="module")
def full() -> Path:
    return trixie_library_root(with_dependencies=True)


@too_new
def test_doctor_names_every_missing_library_and_glibc_2_38(bare: Path) -> None:
    code, report = _cli("doctor", "--dist", str(bare))
    assert code == 1
    [unusable] = _named(report, "dist.unusable")
    assert unusable["status"] == "fail"
    for soname in (*CORE_MISSING, "libdnnl.so.3.6", "GLIBC_2.38"):
        assert soname in unusable["detail"]
    assert "a directory holding" not in unusable["fix"]  # the folder holds libonnxruntime.so*
    assert "glibc 2.38 or newer" in unusable["fix"] and "chroot or container" in unusable["fix"]
    [closure] = _named(report, "core.closure")
    assert closure["status"] == "fail"
    assert set(closure["data"]["missing"]) == {*CORE_MISSING, "libdnnl.so.3.6"}
    [glibc] = _named(report, "host.glibc")
    assert glibc["status"] == "fail"
    assert f"GLIBC_2.38, the host has {host_versions()['GLIBC']}" in glibc["detail"]
    assert "libonnxruntime.so.1.21" in glibc["detail"]


@too_new
def test_the_same_folder_named_by_ort_wrapper_dist(bare: Path) -> None:
    code, report = _cli("doctor", ORT_WRAPPER_DIST=str(bare))
    assert code == 1
    [unusable] = _named(report, "dist.unusable")
    assert "GLIBC_2.38" in unusable["detail"] and "libre2.so.11" in unusable["detail"]
    assert "a directory holding" not in unusable["fix"]


@too_new
def test_checks_linking_section_names_the_same(bare: Path) -> None:
    code, report = _cli("check", "--dist", str(bare), "--only", "linking", "--quiet")
    assert code == 1
    by_name = {c["name"]: c for c in checks(report)}
    distribution = by_name["distribution"]
    assert distribution["status"] == "fail"
    assert "nothing was loaded" in distribution["detail"]
    for soname in (*CORE_MISSING, "GLIBC_2.38"):
        assert soname in distribution["detail"]
    assert "a directory holding" not in distribution["fix"]
    assert by_name["C API"]["status"] == "skip"  # not loaded: the files already said why
    core = by_name["NEEDED of libonnxruntime.so.1.21"]
    assert core["status"] == "fail"
    assert [u.split(" ")[0] for u in core["data"]["unresolved"]] == list(CORE_MISSING)
    versions = by_name["symbol versions of libonnxruntime.so.1.21"]
    assert versions["status"] == "fail" and versions["data"]["required"]["GLIBC"] == "GLIBC_2.38"
    assert "glibc 2.38 or newer" in versions["fix"]


@too_new
def test_init_refuses_it_with_every_reason_before_loading(bare: Path) -> None:
    with pytest.raises(InitError) as raised:
        locate(bare)
    message = str(raised.value)
    assert all(s in message for s in (*CORE_MISSING, "GLIBC_2.38", "nothing was loaded"))


@too_new
def test_with_its_dependencies_the_dependencies_versions_are_named(full: Path) -> None:
    libdir = str(full / LIBDIR)
    code, report = _cli("doctor", "--dist", str(full), LD_LIBRARY_PATH=libdir)
    assert code == 1
    assert not _named(report, "core.closure")  # every library resolves now
    [glibc] = _named(report, "host.glibc")
    assert glibc["status"] == "fail" and "GLIBC_2.38" in glibc["detail"]
    needers = {d["family"]: d["requiredBy"] for d in data(report, "host")["versions"]}
    assert "libonnxruntime.so.1.21" in needers["GLIBC"] and len(needers["GLIBC"]) > 1
    assert any(n.startswith("libprotobuf.so.32") for n in needers["GLIBCXX"])  # a dependency
    code, check = _cli(
        "check", "--dist", str(full), "--only", "linking", "--quiet", LD_LIBRARY_PATH=libdir
    )
    assert code == 1
    by_name = {c["name"]: c for c in checks(check)}
    assert by_name["NEEDED of libonnxruntime.so.1.21"]["status"] == "pass"
    required = by_name["symbol versions of libonnxruntime.so.1.21"]["data"]["required"]
    assert required["GLIBC"] == "GLIBC_2.38" and required["GLIBCXX"] == "GLIBCXX_3.4.32"


@too_new
def test_a_library_beside_it_but_off_the_loaders_path_is_told_so(full: Path) -> None:
    """libonnxruntime.so.1.21 finds its dependencies through RUNPATH $ORIGIN; its DNNL
    provider has no RUNPATH, so libdnnl.so.3.6, extracted beside it, is not found."""
    code, report = _cli("doctor", "--dist", str(full))
    assert code == 1
    [closure] = _named(report, "core.closure")
    assert list(closure["data"]["missing"]) == ["libdnnl.so.3.6"]
    assert f"LD_LIBRARY_PATH={full / LIBDIR}" in closure["fix"]


def test_another_release_is_information_in_both_tools() -> None:
    folder = old_wheel_library_dir()
    doctor_code, doctor = _cli("doctor", "--dist", str(folder))
    check_code, check = _cli(
        "check", "--dist", str(folder), "--only", "linking,providers", "--quiet"
    )
    assert (doctor_code, check_code) == (0, 0), (doctor, check)
    [in_doctor] = _named(doctor, "dist.version")
    [in_check] = _named(check, "dist.version")
    assert in_doctor["status"] == in_check["status"] == "info"
    assert in_doctor["data"] == in_check["data"]
    assert in_check["data"] == {
        "version": "1.20.1",
        "pinned": load_matrix().ort_version,
        "api": "C API 20",
        "pinnedApi": f"C API {api_version_for(load_matrix().ort_version)}",
    }

"""elf: reading files, resolving closures, versions and the host policy, on real libraries."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter, OrderedDict
from pathlib import Path

import onnxruntime
import pytest

from ort_wrapper.elf.policy import host_category
from ort_wrapper.elf.reader import is_elf, read_elf
from ort_wrapper.elf.resolve import resolve_closure
from ort_wrapper.elf.versions import VersionCheck, check_versions, max_required
from ort_wrapper.errors import ElfError

CAPI = Path(onnxruntime.__file__).parent / "capi"
CORE = next(CAPI.glob("libonnxruntime.so.*"))


def test_reads_the_wheels_core_library() -> None:
    info = read_elf(CORE)
    assert info.soname == "libonnxruntime.so.1"
    assert info.runpath == ("$ORIGIN",)
    assert "libstdc++.so.6" in info.needed and "VERS_1.23.2" in info.version_defs
    assert info.machine == "EM_X86_64" and info.elf_class == 64


def test_non_elf_and_missing_files_are_typed_errors(tmp_path: Path) -> None:
    (tmp_path / "text.so").write_text("hello")
    assert not is_elf(tmp_path / "text.so")
    with pytest.raises(ElfError, match=r"text\.so: not an ELF file"):
        read_elf(tmp_path / "text.so")
    with pytest.raises(ElfError, match="no such file"):
        read_elf(tmp_path / "absent.so")


def test_versions_required_by_the_wheel_match_the_measured_facts() -> None:
    libs = [read_elf(p) for p in CAPI.glob("*.so*")]
    assert max_required(libs) == {
        "CXXABI": "CXXABI_1.3.11",
        "GLIBC": "GLIBC_2.27",
        "GLIBCXX": "GLIBCXX_3.4.22",
    }
    checks = check_versions(libs, provided={"GLIBC": "GLIBC_2.17", "GLIBCXX": "GLIBCXX_3.4.30"})
    assert {c.family: c.ok for c in checks} == {"CXXABI": False, "GLIBC": False, "GLIBCXX": True}
    assert not VersionCheck("GLIBC", "GLIBC_2.27", None).ok


def test_closure_labels_sources_and_finds_a_missing_soname(tmp_path: Path) -> None:
    closure = resolve_closure(CORE, ld_library_path="")
    assert not closure.missing
    assert closure.libraries["libc.so.6"].host_category == "glibc"
    assert closure.libraries["libstdc++.so.6"].source in ("ld.so.conf", "default")
    broken = tmp_path / "libbroken.so"
    shutil.copy(CAPI / "libonnxruntime_providers_shared.so", broken)
    subprocess.run(["patchelf", "--add-needed", "libnot-here.so.3", str(broken)], check=True)
    [missing] = resolve_closure(broken, ld_library_path="").missing
    assert missing.soname == "libnot-here.so.3" and missing.needed_by == ("libbroken.so",)
    assert missing.source == "missing"


def test_search_dirs_and_ld_library_path_are_labelled(tmp_path: Path) -> None:
    lib_dir = tmp_path / "deps"
    lib_dir.mkdir()
    shutil.copy(CAPI / "libonnxruntime_providers_shared.so", lib_dir / "libnot-here.so.3")
    user = tmp_path / "libuser.so"
    shutil.copy(CAPI / "libonnxruntime_providers_shared.so", user)
    subprocess.run(["patchelf", "--add-needed", "libnot-here.so.3", str(user)], check=True)
    via_dir = resolve_closure(user, search_dirs=[lib_dir], ld_library_path="")
    assert via_dir.libraries["libnot-here.so.3"].source == "search-dir"
    via_env = resolve_closure(user, ld_library_path=str(lib_dir))
    assert via_env.libraries["libnot-here.so.3"].source == "LD_LIBRARY_PATH"


@pytest.mark.parametrize(
    ("soname", "category"),
    [
        ("libc.so.6", "glibc"),
        ("ld-linux-x86-64.so.2", "loader"),
        ("libcuda.so.1", "driver"),
        ("libnvidia-ml.so.1", "driver"),
        ("libcublasLt.so.12", None),
        ("libstdc++.so.6", "toolchain"),
        ("libgcc_s.so.1", "toolchain"),
    ],
)
def test_policy_table(soname: str, category: str | None) -> None:
    found = host_category(soname)
    assert (found.name if found else None) == category


def test_versions_come_from_the_libstdcxx_the_closure_resolves_to(tmp_path: Path) -> None:
    from ort_wrapper.elf.versions import host_versions, provided_by

    assert provided_by(resolve_closure(CORE, ld_library_path="")) == dict(host_versions())
    # A directory carrying its own (older) libstdc++: RUNPATH $ORIGIN makes it the provider.
    fake = tmp_path / "libstdc++.so.6"
    shutil.copy(CAPI / "libonnxruntime_providers_shared.so", fake)  # defines no GLIBCXX_*
    core = tmp_path / CORE.name
    shutil.copy(CORE, core)
    provided = provided_by(resolve_closure(core, ld_library_path=""))
    assert "GLIBCXX" not in provided and provided["GLIBC"] == host_versions()["GLIBC"]
    [glibcxx] = [c for c in check_versions([read_elf(core)], provided) if c.family == "GLIBCXX"]
    assert not glibcxx.ok


def _count_parses(monkeypatch: pytest.MonkeyPatch, size: int) -> Counter[Path]:
    """Parses per file from now on, with an empty cache of ``size`` entries."""
    from ort_wrapper.elf import reader

    parses: Counter[Path] = Counter()
    parse = reader._parse

    def counted(path: Path) -> reader.ElfInfo:
        parses[path.resolve()] += 1
        return parse(path)

    monkeypatch.setattr(reader, "_parse", counted)
    monkeypatch.setattr(reader, "_cache", OrderedDict())
    monkeypatch.setattr(reader, "CACHE_SIZE", size)
    return parses


@pytest.mark.parametrize("cached", [True, False])
def test_one_linking_section_parses_each_file_once(
    wheel_prefix: Path, monkeypatch: pytest.MonkeyPatch, cached: bool
) -> None:
    from ort_wrapper.check.linking import linking_section
    from ort_wrapper.runtime.distribution import locate

    parses = _count_parses(monkeypatch, 512 if cached else 0)
    section = linking_section(locate(wheel_prefix, strict=False))
    assert section.status == "pass", section.to_json()
    core = next((wheel_prefix / "python/onnxruntime/capi").glob("libonnxruntime.so.*"))
    assert parses[core.resolve()] >= 1
    if cached:
        assert max(parses.values()) == 1, parses
    else:  # the same check without the cache reads the core library again and again
        assert parses[core.resolve()] > 1, parses


def test_an_edited_file_is_read_again_and_the_cache_is_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ort_wrapper.elf import reader

    parses = _count_parses(monkeypatch, 2)
    lib = tmp_path / "lib.so"
    shutil.copy(CORE, lib)
    assert read_elf(lib).soname == read_elf(str(lib)).soname == "libonnxruntime.so.1"
    assert parses[lib] == 1
    link = tmp_path / "link.so"
    link.symlink_to(lib)
    assert read_elf(link).path == link and parses[lib] == 1  # one file, under another name
    subprocess.run(["patchelf", "--set-soname", "libedited.so", str(lib)], check=True)
    assert read_elf(lib).soname == "libedited.so" and parses[lib] == 2
    for other in list(CAPI.glob("*.so*"))[:3]:
        read_elf(other)
    assert len(reader._cache) == 2

"""The ELF sections: the C++ standard library of the loaded objects (Mach-O ones too),
position independence against the output kind, and the symbol versions shared libraries need
against a target.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..elf.reader import read_elf
from ..elf.versions import check_versions, host_versions
from ..errors import ElfError
from ..report import FAIL, INFO, PASS, SKIP, WARN, Check, Section, shortlist
from .load import Archive, Link, member_label
from .units import CxxRuntime, Format, Unit, cxx_runtimes

__all__ = ["OUTPUTS", "cxx_section", "pic_section", "versions_section"]

OUTPUTS = ("exe", "pie", "shared")
_NEW_STRING = "NSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEE"
_CXX11 = re.compile(r"St7__cxx11")


def _objects(link: Link, formats: tuple[Format, ...] = (Format.ELF,)) -> list[Unit]:
    """The loaded relocatable objects of ``formats`` (shared libraries are not members)."""
    return [i.unit for i in link.loaded if i.unit.format in formats and not i.unit.shared]


def _abi_twin(name: str) -> str:
    """``name`` with the new string ABI's names spelled as the old ABI spells them."""
    return _CXX11.sub("St", name.replace(_NEW_STRING, "Ss"))


def _definitions(units: Sequence[Unit], archives: Sequence[Archive]) -> dict[str, tuple[str, str]]:
    """Every C++ symbol the inputs offer (loaded objects, shared libraries, archive indexes),
    keyed by its old-ABI spelling: (the real name, who defines it)."""
    found = {_abi_twin(n): (n, u.label) for u in units for n in u.defined if n.startswith("_Z")}
    for archive in archives:
        for name, member in archive.index:
            if name.startswith("_Z"):
                found.setdefault(_abi_twin(name), (name, member_label(archive.label, member)))
    return found


def _twins(link: Link, units: Sequence[Unit], archives: Sequence[Archive]) -> list[Check]:
    """Unresolved symbols whose other-ABI spelling an input defines: what a link of old- and
    new-ABI objects fails on."""
    defined = _definitions(units, archives)
    checks = []
    for name in link.unresolved:
        twin = defined.get(_abi_twin(name))
        if twin is None or twin[0] == name:
            continue
        users = [u.label for u in units if name in u.undefined]
        checks.append(
            Check(
                "C++ string ABI",
                FAIL,
                f"{shortlist(users, 2)} needs {name}, {twin[1]} defines only {twin[0]}: one of "
                "them was built with _GLIBCXX_USE_CXX11_ABI=0; undefined reference at link",
                {"undefined": name, "defined": twin[0], "users": users, "definer": twin[1]},
                "build both with one _GLIBCXX_USE_CXX11_ABI value (1, GCC's default since 5)",
            )
        )
    return checks


def _runtime_mix(link: Link, by_runtime: Mapping[CxxRuntime, list[str]]) -> Check | None:
    """A failure when what stays undefined needs both libc++ and libstdc++: a link takes one
    C++ runtime, and the other's symbols stay undefined."""
    needs = cxx_runtimes(link.unresolved)
    if CxxRuntime.LIBCXX not in needs or not needs - {CxxRuntime.LIBCXX}:
        return None
    libcxx = by_runtime.get(CxxRuntime.LIBCXX, [])
    gnu = [u for r, us in by_runtime.items() if r is not CxxRuntime.LIBCXX for u in us]
    return Check(
        "C++ standard library",
        FAIL,
        f"{shortlist(libcxx, 2)} needs libc++ (std::__1), {shortlist(gnu, 2)} needs libstdc++: "
        "a link takes one C++ runtime, and the other's symbols stay undefined",
        {str(k): v for k, v in by_runtime.items()},
        "build every static object with one standard library (clang++ -stdlib=libstdc++ or "
        "-stdlib=libc++ for all), or keep them apart behind a shared library",
    )


def cxx_section(link: Link, archives: Sequence[Archive]) -> Section | None:
    """libc++ against libstdc++ among the loaded objects, and old against new string ABI
    where a symbol crosses between them. Objects that use the other runtime only inline link
    (a warning); shared libraries bring their own runtime and are not judged."""
    units = _objects(link, (Format.ELF, Format.MACHO))
    by_runtime: dict[CxxRuntime, list[str]] = {}
    for unit in units:
        for runtime in cxx_runtimes(unit.defined + unit.undefined):
            by_runtime.setdefault(runtime, []).append(unit.label)
    if not by_runtime:
        return None
    mix = _runtime_mix(link, by_runtime)
    checks = ([mix] if mix else []) + _twins(link, units, archives)
    if not checks:
        names = ", ".join(str(r) for r in by_runtime)
        libs = {r is CxxRuntime.LIBCXX for r in by_runtime}
        status = WARN if len(libs) > 1 else PASS
        detail = f"loaded objects use {names}"
        if status is WARN:
            detail += ": they link, but no std type may cross between the two libraries"
        checks.append(Check("C++ standard library", status, detail))
    return Section("c++ runtime", tuple(checks))


def _pic_check(unit: Unit, output: str) -> Check | None:
    rel = unit.relocations
    if rel is None or output == "exe":
        return None
    bad = rel.absolute or (
        rel.preemptible_pc32 or rel.local_exec_tls if output == "shared" else None
    )
    if bad is None:
        return None
    kind = "a PIE" if output == "pie" else "a shared object"
    return Check(
        unit.label,
        FAIL,
        f"relocation {bad[0]} against `{bad[1]}' cannot be used when making {kind}",
        {"relocation": bad[0], "symbol": bad[1], "output": output},
        f"rebuild it with -fPIC (for {kind}{'' if output == 'shared' else '; -fPIE suffices'})"
        + ("; or link a non-PIE executable (-no-pie)" if output == "pie" else ""),
    )


def pic_section(link: Link, output: str) -> Section | None:
    """Whether every loaded ELF object can go into ``output`` (exe, pie or shared), judged on
    x86-64 relocations as ld and lld judge them; objects of other machines are not judged."""
    units = _objects(link)
    if not units:
        return None
    checks = [c for u in units if (c := _pic_check(u, output)) is not None]
    unread = [u.label for u in units if u.relocations is None]
    if unread:
        detail = f"relocations of other machines than x86-64 are not read: {shortlist(unread, 3)}"
        checks.append(Check("position independence", SKIP, detail))
    if not checks:
        detail = f"{len(units)} loaded object(s) fit a {output} link"
        checks.append(Check("position independence", PASS, detail, {"output": output}))
    return Section("position independence", tuple(checks))


def target_versions(glibc: str | None) -> Mapping[str, str]:
    """What the target provides: the host's versions, with GLIBC replaced by ``glibc``."""
    provided = dict(host_versions())
    if glibc:
        provided["GLIBC"] = f"GLIBC_{glibc}"
    return provided


def versions_section(link: Link, glibc: str | None) -> Section | None:
    """The highest GLIBC/GLIBCXX/CXXABI version each loaded shared library needs, against
    the target (the host, or ``glibc``)."""
    shared = [i.unit for i in link.loaded if i.unit.shared]
    if not shared:
        return None
    provided = target_versions(glibc)
    checks = []
    for unit in shared:
        try:
            info = read_elf(Path(unit.label))
        except ElfError as exc:
            checks.append(Check(unit.label, FAIL, str(exc)))
            continue
        for v in check_versions([info], provided):
            status = PASS if v.ok else FAIL
            detail = f"needs {v.required}, the target has {v.provided or 'none'}"
            fix = "" if v.ok else f"build it against the target's {v.family} (or older)"
            checks.append(Check(unit.label, status, detail, {"family": v.family}, fix))
    if not checks:
        checks.append(Check("symbol versions", INFO, "no GLIBC/GLIBCXX/CXXABI versions needed"))
    return Section("symbol versions", tuple(checks), data={"target": dict(provided)})

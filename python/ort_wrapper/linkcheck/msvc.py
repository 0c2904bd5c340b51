"""The MSVC runtime section: ``/FAILIFMISMATCH`` values of the loaded Windows objects judged as
lld-link and link.exe judge them (LNK2038), ``/DEFAULTLIB`` C runtimes, and what was not read.

The first loaded object carrying a key sets its value; a later one with another value fails
the link, and the linker names those two (lld names the first mismatching key per object).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..elf.coff import CoffKind, Directives
from ..report import FAIL, INFO, PASS, WARN, Check, Section, Table, shortlist
from .load import Archive, Link
from .units import Unit

__all__ = ["msvc_section"]

_CRT_VALUES = {
    "msvcrt": "MD_DynamicRelease",
    "msvcrtd": "MDd_DynamicDebug",
    "libcmt": "MT_StaticRelease",
    "libcmtd": "MTd_StaticDebug",
}
_CRTS = set(_CRT_VALUES)
_STATIC = "MT_StaticRelease"
_KNOWN_FIXES = {
    "_ITERATOR_DEBUG_LEVEL": "build every loaded object in one configuration (Release: 0, "
    "Debug: 2); a /MDd or /MTd object does not go with release ones",
    "_MSC_VER": "build every loaded object with one MSVC toolset (the newest of them)",
}


def _runtime_fix(odd: Sequence[str], odd_value: str, other: str) -> str:
    """How to make ``odd`` (``odd_value``) agree with the rest (``other``): the options that
    exist for each side (shared/FACTS.md)."""
    names = shortlist(list(odd), 3)
    if other.startswith("MD"):
        fix = (
            f"rebuild {names} with /MD: a cc-crate build takes CXXFLAGS_<target>=/MD (appended "
            "last, so it wins)"
        )
        if any("esaxx" in label for label in odd):
            fix += "; esaxx-rs hard-codes /MT: build tokenizers without its esaxx_fast feature"
        return fix + (
            "; or move everything else to /MT: ONNX Runtime's build.py "
            "--enable_msvc_static_runtime (CMAKE_MSVC_RUNTIME_LIBRARY=MultiThreaded$<$<CONFIG:"
            "Debug>:Debug>), Rust's -C target-feature=+crt-static"
        )
    return (
        f"rebuild {names} with /MT ({odd_value} now): ONNX Runtime with build.py "
        "--enable_msvc_static_runtime (CMAKE_MSVC_RUNTIME_LIBRARY=MultiThreaded$<$<CONFIG:"
        "Debug>:Debug>), a cc-crate build with CXXFLAGS_<target>=/MT, Rust with "
        "-C target-feature=+crt-static"
    )


def _directives(unit: Unit) -> Directives:
    """A unit's directives (none for a non-Windows object)."""
    return unit.coff.directives if unit.coff else Directives()


def _values(units: Iterable[Unit], key: str) -> dict[str, list[str]]:
    """value -> labels of the objects carrying ``key``, in load order."""
    found: dict[str, list[str]] = {}
    for unit in units:
        for k, v in _directives(unit).mismatch:
            if k == key:
                found.setdefault(v, []).append(unit.label)
                break
    return found


def _majority(units: Sequence[Unit], key: str, values: dict[str, list[str]]) -> str:
    """The value most loaded objects go with: for RuntimeLibrary, an object without the key
    (plain C, Rust) votes with the C runtime its /DEFAULTLIB names; a tie goes to the value
    loaded first."""
    votes = {v: len(labels) for v, labels in values.items()}
    if key == "RuntimeLibrary":
        for unit in units:
            directives = _directives(unit)
            if key in dict(directives.mismatch):
                continue
            crts = {_CRT_VALUES[lib] for lib in directives.defaultlibs if lib in _CRT_VALUES}
            for value in crts & set(votes):
                votes[value] += 1
    return max(votes, key=lambda v: votes[v])


def _clash(units: Sequence[Unit], key: str) -> tuple[str, str, str, str] | None:
    """The first loaded object carrying ``key`` and the first one after it with another
    value, as a linker names them (None when they all agree)."""
    first: tuple[str, str] | None = None
    for unit in units:
        value = dict(_directives(unit).mismatch).get(key)
        if value is None:
            continue
        if first is None:
            first = (unit.label, value)
        elif value != first[1]:
            return (*first, unit.label, value)
    return None


def _key_check(key: str, units: Sequence[Unit]) -> Check:
    values = _values(units, key)
    clash = _clash(units, key)
    if clash is None:
        [(value, labels)] = values.items()
        return Check(
            f"FAILIFMISMATCH {key}", PASS, f"{len(labels)} loaded object(s): {value}", {key: value}
        )
    a, a_value, b, b_value = clash
    majority = _majority(units, key, values)
    odd = [(label, v) for v, labels in values.items() if v != majority for label in labels]
    detail = (
        f"mismatch detected for '{key}': {a} has {a_value}, {b} has {b_value}; odd one out: "
        f"{shortlist([f'{label}: {v}' for label, v in odd], 5)}; every other loaded object: "
        f"{majority}"
    )
    if key == "RuntimeLibrary":
        fix = _runtime_fix([label for label, _ in odd], odd[0][1], majority)
    else:
        fix = _KNOWN_FIXES.get(key, f"build every loaded object with one {key} value")
    data = {"key": key, "first": a, "first_value": a_value, "conflict": b, "value": b_value}
    return Check(f"FAILIFMISMATCH {key}", FAIL, detail, {**data, "values": values}, fix)


def _lld_order(check: Check, units: Sequence[Unit]) -> tuple[int, int]:
    """Where lld reports a mismatch: at the conflicting object (load order), at its key's
    place among that object's pairs; agreeing keys come first."""
    if check.status is not FAIL:
        return (-1, 0)
    labels = [u.label for u in units]
    unit = units[labels.index(check.data["conflict"])]
    keys = [k for k, _ in _directives(unit).mismatch]
    return labels.index(check.data["conflict"]), keys.index(check.data["key"])


def _if_used(archives: Iterable[Archive], link: Link, agreed: dict[str, str]) -> list[Check]:
    """Members nothing loads whose values differ from the loaded ones: fine now, a failure
    once something needs them."""
    checks = []
    for archive in archives:
        for member, unit in archive.objects():
            if (archive.label, member.header) in link.loaded_members or not isinstance(unit, Unit):
                continue
            for key, value in _directives(unit).mismatch:
                if key in agreed and agreed[key] != value:
                    detail = (
                        f"{key}={value} (loaded objects: {agreed[key]}): not loaded, as nothing "
                        "needs it; the link fails if something uses it"
                    )
                    checks.append(Check(unit.label, INFO, detail, {key: value}))
                    break
    return checks


def _unread(units: Sequence[Unit]) -> list[Check]:
    """Loaded objects whose directives are unknown: never passed silently."""
    fix = "build it without /GL (or have LLVM's tools on PATH for bitcode) to have it judged"
    return [
        Check(u.label, WARN, f"loaded, not judged: {u.opaque}", fix=fix) for u in units if u.opaque
    ]


def _crts(units: Sequence[Unit]) -> Check | None:
    crts: dict[str, list[str]] = {}
    for unit in units:
        for lib in _directives(unit).defaultlibs:
            if lib in _CRTS:
                crts.setdefault(lib, []).append(unit.label)
    if len(crts) < 2:
        return None
    detail = "; ".join(f"{lib}: {shortlist(labels, 3)}" for lib, labels in crts.items())
    return Check(
        "DEFAULTLIB C runtime",
        WARN,
        f"more than one C runtime asked for ({detail}): link.exe warns LNK4098",
        {"defaultlibs": crts},
    )


def _stl_toolset(link: Link, units: Sequence[Unit]) -> Check | None:
    """MSVC STL functions (``__std_*``, compiled into the STL's import library) that no input
    defines: an older toolset's STL lacks the newer ones (LNK2019, the ``ort`` crate's #240)."""
    needed = [n for n in link.unresolved if n.startswith("__std_")]
    if not needed:
        return None
    users = [u.label for u in units if set(u.undefined) & set(needed)]
    versions = sorted(set(_values(units, "_MSC_VER")))
    built = f" (built with _MSC_VER {', '.join(versions)})" if versions else ""
    return Check(
        "MSVC STL toolset",
        WARN,
        f"{shortlist(users, 3)}{built} need(s) {shortlist(needed, 3)} from MSVC's STL: "
        "an older toolset's STL lacks them and the link fails with LNK2019",
        {"symbols": needed, "users": users},
        "link with the MSVC toolset that built them or a newer one, or rebuild them with yours",
    )


def msvc_section(link: Link, archives: Sequence[Archive]) -> Section | None:
    """The section for the loaded Windows objects; None when the link loads none."""
    units = [item.unit for item in link.loaded if item.unit.coff is not None]
    if not units:
        return None
    keys = dict.fromkeys(k for u in units for k, _ in _directives(u).mismatch)
    checks = sorted((_key_check(key, units) for key in keys), key=lambda c: _lld_order(c, units))
    agreed = {k: _majority(units, k, _values(units, k)) for k in keys}
    checks += _if_used(archives, link, agreed)
    checks += _unread(units)
    if (stl := _stl_toolset(link, units)) is not None:
        checks.append(stl)
    if (crt := _crts(units)) is not None:
        checks.append(crt)
    dlls = sorted({u.coff.dll for u in units if u.coff and u.coff.kind is CoffKind.IMPORT})
    if dlls:
        checks.append(
            Check("imports", INFO, f"import objects loaded from {shortlist(dlls)}", {"dlls": dlls})
        )
    if not checks:
        checks.append(
            Check("FAILIFMISMATCH", PASS, f"{len(units)} loaded object(s) carry no /FAILIFMISMATCH")
        )
    rows = tuple(
        (
            u.label,
            u.coff.kind.value if u.coff else "",
            " ".join(f"{k}={v}" for k, v in _directives(u).mismatch),
            " ".join(_directives(u).defaultlibs),
        )
        for u in units
    )
    table = Table(
        "loaded Windows objects", ("object", "kind", "/FAILIFMISMATCH", "/DEFAULTLIB"), rows
    )
    return Section("msvc runtime", tuple(checks), (table,))

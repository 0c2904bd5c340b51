"""The Mach-O deployment-target section: each loaded object's minimum OS version against the
link's (ld64 and ld64.lld warn when an object was built for a newer OS than the link targets).
"""

from __future__ import annotations

from ..report import INFO, PASS, WARN, Check, Section, Table
from .load import Link
from .units import Format, Unit

__all__ = ["deployment_section", "parse_version"]


def parse_version(text: str) -> tuple[int, int, int]:
    """'13.0' -> (13, 0, 0); ValueError for anything else."""
    parts = [int(p) for p in text.split(".")]
    if not 1 <= len(parts) <= 3:
        raise ValueError(text)
    major, minor, patch = [*parts, 0, 0][:3]
    return major, minor, patch


def _fmt(version: tuple[int, int, int]) -> str:
    return ".".join(map(str, version))


def _check(unit: Unit, target: tuple[int, int, int]) -> Check:
    platform, version = unit.min_os  # type: ignore[misc]
    data = {"platform": platform, "min_os": _fmt(version), "target": _fmt(target)}
    if version <= target:
        return Check(unit.label, PASS, f"{platform} {_fmt(version)}", data)
    return Check(
        unit.label,
        WARN,
        f"has version {_fmt(version)}, which is newer than target minimum of {_fmt(target)}",
        data,
        f"build it with -m{platform}-version-min={_fmt(target)} (MACOSX_DEPLOYMENT_TARGET for "
        f"macOS), or link for {_fmt(version)} and later",
    )


def deployment_section(link: Link, target: str | None) -> Section | None:
    """Loaded Mach-O objects' minimum OS versions; against ``target`` when given."""
    units = [i.unit for i in link.loaded if i.unit.format is Format.MACHO and i.unit.min_os]
    units = [u for u in units if not u.shared]
    if not units:
        return None
    rows = tuple((u.label, u.min_os[0], _fmt(u.min_os[1])) for u in units)  # type: ignore[index]
    table = Table("loaded Mach-O objects", ("object", "platform", "minimum"), rows)
    if target is None:
        top = max(units, key=lambda u: u.min_os[1])  # type: ignore[index]
        platform, version = top.min_os  # type: ignore[misc]
        detail = f"the newest is {top.label} ({platform} {_fmt(version)}): a link for less warns"
        checks: tuple[Check, ...] = (Check("deployment target", INFO, detail),)
    else:
        checks = tuple(_check(u, parse_version(target)) for u in units)
    return Section("deployment target", checks, (table,))

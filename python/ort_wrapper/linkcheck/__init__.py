"""Predict a consumer's link failure from the files, before the link: ``link_check``.

The inputs are opened (``inputs``), the link is simulated to learn which objects it loads
(``load``), and the loaded objects are judged per format (``msvc``, ``elfjudge``, ``apple``)
into one
:class:`~ort_wrapper.report.Report`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from ..report import FAIL, INFO, WARN, Check, Report, Section
from .apple import deployment_section
from .elfjudge import OUTPUTS, cxx_section, pic_section, versions_section
from .inputs import Inputs, collect
from .load import Archive, Link, simulate
from .msvc import msvc_section
from .units import Format, Relocations, Unit

__all__ = ["OUTPUTS", "link_check"]

NONE = Relocations()  # a -u seed: no relocation to judge


def _no_index(archive: Archive) -> Check:
    """An archive without a symbol index: linkers differ, and none of its members is judged."""
    return Check(
        archive.label,
        WARN,
        "has no symbol index: GNU ld refuses it (archive has no index), lld-link takes nothing "
        "from it, ld.lld reads its members; none of its members is judged here",
        fix=f"add an index: llvm-ranlib {archive.label} (or ranlib)",
    )


def _inputs_section(inputs: Inputs, link: Link) -> Section:
    """One check per unreadable file or lying index, and what the link loads."""
    problems = (*inputs.problems, *link.problems)
    checks = [
        Check(where, FAIL, message, fix="rebuild or replace it") for where, message in problems
    ]
    archives = sum(isinstance(f, Archive) for f in inputs.files)
    detail = (
        f"{len(inputs.files)} input(s), {archives} archive(s); the link loads "
        f"{len(link.loaded)} object(s)"
    )
    checks.insert(0, Check("inputs", INFO, detail, {"unresolved": list(link.unresolved)}))
    checks += [
        _no_index(f) for f in inputs.files if isinstance(f, Archive) and not f.info.has_index
    ]
    if link.unresolved:
        names = ", ".join(link.unresolved[:8])
        detail = (
            f"{len(link.unresolved)} symbol(s) no input defines (system libraries may): {names}"
        )
        checks.append(Check("undefined symbols", INFO, detail))
    return Section("inputs", tuple(checks))


def link_check(
    paths: Sequence[Path],
    output: str = "pie",
    target_glibc: str | None = None,
    target_os_min: str | None = None,
    undefined: Sequence[str] = (),
) -> Report:
    """Judge a link of ``paths`` (objects, archives, shared libraries, folders; in link order)
    into ``output`` (exe, pie, shared) for a target with glibc ``target_glibc`` (the host's
    when None) or, for Mach-O, the minimum OS version ``target_os_min``; ``undefined``: the
    symbols the link is told to need first (``-u SYMBOL``)."""
    start = time.monotonic()
    inputs = collect(paths)
    seed = [Unit(f"-u {' '.join(undefined)}", Format.ELF, (), tuple(undefined), relocations=NONE)]
    link = simulate([*(seed if undefined else ()), *inputs.files])
    archives = [f for f in inputs.files if isinstance(f, Archive)]
    sections = [_inputs_section(inputs, link)]
    for section in (
        msvc_section(link, archives),
        cxx_section(link, archives),
        pic_section(link, output),
        versions_section(link, target_glibc),
        deployment_section(link, target_os_min),
    ):
        if section is not None:
            sections.append(section)
    subject = " ".join(str(p) for p in paths)
    return Report("link-check", subject, tuple(sections), time.monotonic() - start)

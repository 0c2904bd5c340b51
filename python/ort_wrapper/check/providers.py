"""The providers section: compiled in versus actually usable, decided by a real session.

The reasons come from ``ort_wrapper.runtime.diagnose.provider_status`` (shared with strict
sessions and ``ort-wrapper doctor``), the manifest check is ``runtime.diagnose.manifest_check``
(the one doctor reports too); "usable" means ONNX Runtime lists the provider in the session it
actually built.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from ..report import FAIL, INFO, PASS, Check, Section, Table
from ..runtime.diagnose import manifest_check, provider_status
from ..runtime.loader import init
from ..runtime.probe import probe_provider

__all__ = ["ProviderVerdict", "judge_providers", "providers_section"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProviderVerdict:
    """One provider: claimed, compiled in, usable, and why not."""

    name: str
    claimed: bool
    compiled_in: bool
    usable: bool
    reason: str = ""


def judge_providers(claimed: Sequence[str] | None = None) -> tuple[ProviderVerdict, ...]:
    """Every provider the distribution claims or compiles in, judged by creating a session.

    ``claimed``: what the manifest says (default: what ONNX Runtime reports compiled in).
    """
    info = init()
    available = info.available_providers
    claimed = tuple(claimed) if claimed is not None else available
    verdicts = []
    for name in dict.fromkeys((*claimed, *available)):
        if name not in available:  # the same words strict sessions and doctor use
            status = provider_status(name, available=available, library_dirs=())
            verdicts.append(ProviderVerdict(name, name in claimed, False, False, status.reason()))
            continue
        probe = probe_provider(name)  # a strict session: its reason is provider_status's
        verdicts.append(ProviderVerdict(name, name in claimed, True, probe.used, probe.reason))
    return tuple(verdicts)


def providers_section(
    claimed: Sequence[str] | None = None, verdicts: Sequence[ProviderVerdict] | None = None
) -> Section:
    """Run the providers section in this process (the runtime ``init()`` loads); pass
    ``verdicts`` already made by ``judge_providers`` to reuse them."""
    start = time.monotonic()
    verdicts = judge_providers(claimed) if verdicts is None else verdicts
    checks = [manifest_check(claimed, [v.name for v in verdicts if v.compiled_in])]
    for v in verdicts:
        data = {
            "claimed": v.claimed,
            "compiledIn": v.compiled_in,
            "usable": v.usable,
            "reason": v.reason,
        }
        if v.usable:
            checks.append(Check(v.name, PASS, "usable: a session runs on it", data))
        elif v.claimed:
            checks.append(Check(v.name, FAIL, f"claimed but not usable: {v.reason}", data))
        else:
            checks.append(Check(v.name, INFO, f"compiled in, not usable here: {v.reason}", data))
    rows = tuple(
        (v.name, _yes(v.claimed), _yes(v.compiled_in), _yes(v.usable), v.reason or "-")
        for v in verdicts
    )
    table = Table("providers", ("provider", "claimed", "compiled in", "usable", "reason"), rows)
    return Section("providers", tuple(checks), (table,), time.monotonic() - start)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"

"""What a bundle left out on purpose (``ort-wrapper bundle --provider``): the provider
libraries ``bundle.json`` lists under ``leftOut``, so doctor reports those providers as
absent by choice, not as a broken distribution."""

from __future__ import annotations

import json
from pathlib import PurePosixPath

from ..bundle import BUNDLE_JSON_RELPATH
from ..runtime.distribution import Distribution

__all__ = ["left_out_libraries"]


def left_out_libraries(dist: Distribution) -> frozenset[str]:
    """File names of the libraries the bundle at ``dist.root`` left out; empty when it is no
    bundle or its bundle.json is unreadable (doctor then judges the files as they are)."""
    if dist.kind != "prefix":
        return frozenset()
    try:
        data = json.loads((dist.root / BUNDLE_JSON_RELPATH).read_text())
    except (OSError, ValueError):
        return frozenset()
    entries = data.get("leftOut") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return frozenset()
    # each entry is "<the library's path in the source> (<why>)"
    return frozenset(
        PurePosixPath(entry.split(" (", 1)[0]).name for entry in entries if isinstance(entry, str)
    )

"""What a bundle left out on purpose (``ort-wrapper bundle --provider``): the provider
libraries ``bundle.json`` lists under ``leftOut``, so doctor reports those providers as
absent by choice, not as a broken distribution."""

from __future__ import annotations

from ..bundle.record import read_bundle_record
from ..errors import BundleError
from ..runtime.distribution import Distribution

__all__ = ["left_out_libraries"]


def left_out_libraries(dist: Distribution) -> frozenset[str]:
    """File names of the libraries the bundle at ``dist.root`` left out; empty when it is no
    bundle or its bundle.json is unreadable (doctor then judges the files as they are)."""
    if dist.kind != "prefix":
        return frozenset()
    try:
        record = read_bundle_record(dist.root)
    except (OSError, BundleError):
        return frozenset()
    return frozenset(entry.name for entry in record.left_out)

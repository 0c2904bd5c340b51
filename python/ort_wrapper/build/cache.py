"""Where this project caches what it builds and downloads, outside any checkout."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_root"]


def cache_root() -> Path:
    """``$ORT_BUILDER_CACHE``, else ``${XDG_CACHE_HOME:-~/.cache}/onnxruntime-builder``."""
    override = os.environ.get("ORT_BUILDER_CACHE")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "onnxruntime-builder"

"""Self-contained bundles of a distribution: its libraries plus their whole closure.

Sub-modules, one job each: ``source`` (what SRC is: a prefix with a manifest, an installed
onnxruntime wheel, or a directory of libraries), ``companions`` (libraries dlopened by soname,
as data), ``plan`` (the closure: what is bundled, from where, and why), ``patch`` (patchelf),
``verify`` (every NEEDED resolves inside the bundle or to an allowed host library), ``write``
(copy, patch, manifests, verify, atomic rename) and ``wheel`` (a platform wheel of ort-wrapper
carrying a bundle, repaired by auditwheel).
"""

from __future__ import annotations

__all__ = ["BUNDLE_JSON_RELPATH", "LIB_DIR"]

BUNDLE_JSON_RELPATH = "share/ort-wrapper/bundle.json"
LIB_DIR = "lib"

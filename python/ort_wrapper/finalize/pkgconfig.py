"""``lib/pkgconfig/libonnxruntime.pc`` for a distribution, relocatable through
``${pcfiledir}``. A static distribution has no shared library for ``-lonnxruntime`` to find, so
everything its self-contained archive still needs (the C++ runtime, shared libraries that
remain) is in ``Libs``: ``pkg-config --libs`` alone links it, as the ``ort`` crate asks."""

from __future__ import annotations

from collections.abc import Sequence

from .headers import include_dirs

__all__ = ["PC_RELPATH", "pkgconfig_text"]

PC_RELPATH = "lib/pkgconfig/libonnxruntime.pc"


def pkgconfig_text(
    *,
    version: str,
    variant: str,
    link_mode: str,
    include_dir: str | None,
    libs: Sequence[str],
) -> str:
    """The .pc file. ``libs`` are the flags after the library itself, with ``${prefix}``."""
    lines = [
        "prefix=${pcfiledir}/../..",
        "libdir=${prefix}/lib",
        *([f"includedir=${{prefix}}/{include_dir}"] if include_dir else []),
        "",
        "Name: libonnxruntime",
        f"Description: ONNX Runtime, variant {variant} ({link_mode})",
        f"Version: {version}",
        " ".join(["Libs: -L${libdir} -lonnxruntime", *libs]),
    ]
    if include_dir:
        # the C API header's folder first, then those <onnxruntime/...> spellings need
        others = [f"-I${{prefix}}/{d}" for d in include_dirs(include_dir)[1:]]
        lines.append(" ".join(["Cflags: -I${includedir}", *others]))
    return "\n".join(lines) + "\n"

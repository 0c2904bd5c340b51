"""``lib/pkgconfig/libonnxruntime.pc`` for a distribution, relocatable through
``${pcfiledir}``; a static distribution's dependencies go in ``Libs.private``."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["PC_RELPATH", "pkgconfig_text"]

PC_RELPATH = "lib/pkgconfig/libonnxruntime.pc"


def pkgconfig_text(
    *,
    version: str,
    variant: str,
    link_mode: str,
    include_dir: str | None,
    private: Sequence[str],
) -> str:
    """The .pc file. ``private`` are the flags after the library itself, with ``${prefix}``."""
    lines = [
        "prefix=${pcfiledir}/../..",
        "libdir=${prefix}/lib",
        *([f"includedir=${{prefix}}/{include_dir}"] if include_dir else []),
        "",
        "Name: libonnxruntime",
        f"Description: ONNX Runtime, variant {variant} ({link_mode})",
        f"Version: {version}",
        "Libs: -L${libdir} -lonnxruntime",
    ]
    if private:
        lines.append("Libs.private: " + " ".join(private))
    if include_dir:
        lines.append("Cflags: -I${includedir}")
    return "\n".join(lines) + "\n"

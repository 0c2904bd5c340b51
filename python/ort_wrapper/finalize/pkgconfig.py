"""``lib/pkgconfig/libonnxruntime.pc`` for a distribution, relocatable through
``${pcfiledir}``; a static distribution's dependencies go in ``Libs.private``."""

from __future__ import annotations

from collections.abc import Sequence

from ..escape import pkgconfig_text as _text
from ..escape import pkgconfig_word as _word

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
        *([f"includedir=${{prefix}}/{_word(include_dir, 'includeDir')}"] if include_dir else []),
        "",
        "Name: libonnxruntime",
        f"Description: ONNX Runtime, variant {_text(variant, 'the variant')} ({link_mode})",
        f"Version: {_text(version, 'the version')}",
        "Libs: -L${libdir} -lonnxruntime",
    ]
    if private:
        words = (_word(f, "the link flag", variables=("prefix",)) for f in private)
        lines.append("Libs.private: " + " ".join(words))
    if include_dir:
        lines.append("Cflags: -I${includedir}")
    return "\n".join(lines) + "\n"

"""``lib/pkgconfig/libonnxruntime.pc`` for a distribution, relocatable through
``${pcfiledir}``. A static distribution has no shared library for ``-lonnxruntime`` to find, so
everything its self-contained archive still needs (the C++ runtime, shared libraries that
remain) is in ``Libs``: ``pkg-config --libs`` alone links it, as the ``ort`` crate asks."""

from __future__ import annotations

from collections.abc import Sequence

from ..escape import pkgconfig_text as _text
from ..escape import pkgconfig_word as _word
from .headers import include_dirs

__all__ = ["PC_RELPATH", "pkgconfig_text"]

PC_RELPATH = "lib/pkgconfig/libonnxruntime.pc"
_FLAG, _VARS = "the link flag", ("prefix",)


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
        *([f"includedir=${{prefix}}/{_word(include_dir, 'includeDir')}"] if include_dir else []),
        "",
        "Name: libonnxruntime",
        f"Description: ONNX Runtime, variant {_text(variant, 'the variant')} ({link_mode})",
        f"Version: {_text(version, 'the version')}",
        " ".join(
            ["Libs: -L${libdir} -lonnxruntime", *(_word(f, _FLAG, variables=_VARS) for f in libs)]
        ),
    ]
    if include_dir:
        # the C API header's folder first, then those <onnxruntime/...> spellings need
        others = [
            f"-I${{prefix}}/{_word(d, 'the include folder')}" for d in include_dirs(include_dir)[1:]
        ]
        lines.append(" ".join(["Cflags: -I${includedir}", *others]))
    return "\n".join(lines) + "\n"

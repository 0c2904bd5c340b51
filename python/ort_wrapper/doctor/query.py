"""Doctor's question to a distribution, asked in a confined child: which version and which
compiled-in providers.

``python -m ort_wrapper.doctor.query`` is the child (``runtime.untrusted.run_confined``): its
request is the distribution's root (None: a plain ``import onnxruntime``, the package on its
PYTHONPATH), and its answer, sent on the result channel, is the version and the providers.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["query_command"]


def query_command() -> list[str]:
    """The query's command (its request: the root, or None for ``import onnxruntime``)."""
    return [sys.executable, "-m", __name__]


def _runtime_facts(root: str | None) -> dict[str, Any]:
    if root is not None:
        from ..runtime.loader import init

        info = init(root)
        return {"version": info.version, "providers": list(info.available_providers)}
    from ..runtime.untrusted import import_onnxruntime

    module = import_onnxruntime()
    return {
        "version": module.__version__,
        "file": module.__file__,
        "providers": module.get_available_providers(),
    }


if __name__ == "__main__":
    from ..runtime.untrusted import receive

    channel, request = receive()
    channel.send(_runtime_facts(request))

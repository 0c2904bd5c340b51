"""``ort-wrapper info``: the runtime this process would load, and which providers really run."""

from __future__ import annotations

import argparse
import json

HELP = "show the ONNX Runtime in use: version, distribution, providers (compiled in / usable)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of the verb."""
    parser.add_argument("--dist", metavar="PATH", help="distribution prefix (default: as init())")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def run(args: argparse.Namespace) -> int:
    """Initialise, probe every compiled-in provider with a real session, print the facts."""
    from ..escape import terminal_text
    from ..runtime.loader import init
    from ..runtime.probe import probe_provider

    info = init(args.dist)
    probes = [probe_provider(p) for p in info.available_providers]
    facts = {
        "version": info.version,
        "backend": info.backend.value,
        "distribution": {
            "kind": info.distribution.kind,
            "root": str(info.distribution.root),
            "origin": info.distribution.origin,
            "variant": info.distribution.manifest.variant if info.distribution.manifest else None,
        },
        "providers": {
            p.provider: {"usable": p.used, **({"reason": p.reason} if p.reason else {})}
            for p in probes
        },
        "library_paths": [str(p) for p in info.library_paths],
    }
    if args.json:
        print(json.dumps(facts, indent=2))
        return 0
    via = f"C API over {info.library}" if info.library else "the onnxruntime Python module"
    lines = [
        f"ONNX Runtime {info.version}",
        f"distribution: {info.distribution.describe()}",
        f"backend: {info.backend.value} ({via})",
        "providers (compiled in):",
        *(
            f"  {p.provider:<28} {'usable' if p.used else f'NOT usable: {p.reason}'}"
            for p in probes
        ),
        "libraries loaded:",
        *(f"  {path}" for path in info.library_paths),
    ]
    print(terminal_text("\n".join(lines)))
    return 0

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
    print(f"ONNX Runtime {info.version}")
    print(f"distribution: {info.distribution.describe()}")
    via = f"C API over {info.library}" if info.library else "the onnxruntime Python module"
    print(f"backend: {info.backend.value} ({via})")
    print("providers (compiled in):")
    for probe in probes:
        state = "usable" if probe.used else f"NOT usable: {probe.reason}"
        print(f"  {probe.provider:<28} {state}")
    print("libraries loaded:")
    for path in info.library_paths:
        print(f"  {path}")
    return 0

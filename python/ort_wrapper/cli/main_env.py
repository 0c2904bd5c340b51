"""``ort-wrapper env``: the variables a consumer's build needs for a distribution, as shell
assignments for ``eval`` (or JSON); the dev shells set the same values."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HELP = "print the variables (ORT_LIB_LOCATION, PKG_CONFIG_PATH, ...) that link a distribution"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of the verb."""
    parser.add_argument("dist", type=Path, help="the distribution's root (or its library folder)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of shell lines")


def run(args: argparse.Namespace) -> int:
    """Compute everything first, so that a failure prints nothing a shell would evaluate."""
    from ..consumers import PATH_LISTS, consumer_env
    from ..escape import shell_export

    env = consumer_env(args.dist)
    if args.json:
        text = json.dumps(env.to_json(), indent=2)
    else:
        text = "\n".join(
            shell_export(name, value, prepend=name in PATH_LISTS) for name, value in env.variables
        )
    for note in env.notes:
        print(f"ort-wrapper env: note: {note}", file=sys.stderr)
    print(text)
    return 0

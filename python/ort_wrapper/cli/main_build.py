"""``ort-wrapper build``: the native build lab (a variant built in a Debian chroot, finalized)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from ..lab.shared_cache import ENV_VAR as CACHE_URL_VAR

HELP = (
    "build a variant natively in a Debian chroot and finalize it (cached by input; absorbs "
    "only the dependency members the link uses unless --no-prune)"
)

_CHECKOUT_PATCHES = Path(__file__).resolve().parents[3] / "patches"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--variant", default="cpu", help="variant of pkgs/variants.json")
    parser.add_argument(
        "--ort-version",
        default=None,
        help="ONNX Runtime source version to build (default: the newest the lab has pinned)",
    )
    parser.add_argument(
        "--patches-dir",
        type=Path,
        default=Path(os.environ.get("ORT_WRAPPER_PATCHES", _CHECKOUT_PATCHES)),
        help="folder of the patch series (default: $ORT_WRAPPER_PATCHES or the checkout's)",
    )
    parser.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--no-prune",
        dest="prune",
        action="store_false",
        help="absorb every member of every dependency archive found, not only those the link "
        "uses (build prunes by default, unlike `finalize`, which prunes only with --prune)",
    )
    parser.add_argument(
        "--check-patches",
        action="store_true",
        help="only dry-run every patch of --patches-dir against the pristine source",
    )
    reduce = parser.add_mutually_exclusive_group()
    reduce.add_argument(
        "--for-models",
        nargs="+",
        type=Path,
        metavar="MODEL",
        help="build reduced to the operators these models use (and those ONNX Runtime's "
        "optimisers add, found by running them through the full build of the same source, "
        "which is built first when it is not cached)",
    )
    reduce.add_argument(
        "--operators-config",
        type=Path,
        metavar="FILE",
        help="build reduced to the operators of this config (`reduce-config` writes one)",
    )
    parser.add_argument(
        "--cache-url",
        metavar="URL",
        default=None,
        help="a shared compiler cache, redis://[[USER:]PASSWORD@]HOST[:PORT][/DB] or "
        "http://[USER:PASSWORD@]HOST[:PORT]/PATH, used by the chroot's ccache after its local "
        f"cache (default: ${CACHE_URL_VAR}; an empty value turns it off). A URL that is refused, "
        "unreachable, needs a password or refuses writes leaves the build on the local cache",
    )
    parser.add_argument("--json", type=Path, help="also write the result as JSON to this file")


def _newest_source() -> str:
    from ..lab.source import known_versions

    return max(known_versions(), key=lambda v: tuple(int(p) for p in v.split(".")))


def run(args: argparse.Namespace) -> int:
    from ..errors import BuildError
    from ..files import output_problem, write_json_atomic
    from ..lab.pipeline import check_patches, reduced_for_models, run_lab
    from ..lab.shared_cache import SharedCache, cache_url_setting
    from ..lab.source import known_source
    from ..matrix import load_matrix
    from ..operators import read_config
    from ..reduce.models import model_operators

    inputs = [*(args.for_models or []), args.operators_config, args.patches_dir]
    if args.json and (problem := output_problem(args.json, inputs)):
        raise BuildError(f"--json {args.json} {problem}; nothing was built")
    matrix = load_matrix()
    source = known_source(args.ort_version or _newest_source())
    if args.check_patches:
        report = check_patches(matrix, source, args.patches_dir)
        for entry in report:
            print(f"{entry['patch']}: {entry['status']} {entry['reason']}".rstrip())
        if args.json:
            write_json_atomic(args.json, report)
        return 0

    where = (matrix, args.variant, source, args.patches_dir)
    operators = read_config(args.operators_config) if args.operators_config else None
    if args.for_models:
        for model in args.for_models:  # before anything is built: a bad model stops here
            model_operators(model)
    shared = SharedCache.resolve(cache_url_setting(args.cache_url))  # probed once, first
    if args.for_models:
        _, result = reduced_for_models(
            *where, args.for_models, jobs=args.jobs, prune=args.prune, shared=shared
        )
    else:
        result = run_lab(
            *where, jobs=args.jobs, prune=args.prune, operators=operators, shared=shared
        )
    summary = {
        "dist": str(result.dist),
        "distInChroot": result.dist_inside,
        "chroot": str(result.chroot.root),
        "key": result.key,
        "cached": result.cached,
        "timings": result.timings,
        "sharedCache": shared.describe(),
        "patches": [p.to_json() for p in result.patches],
        **({"reducedFor": result.reduced_for.to_json()} if result.reduced_for else {}),
    }
    print(json.dumps(summary, indent=2))
    if args.json:
        write_json_atomic(args.json, summary)
    return 0

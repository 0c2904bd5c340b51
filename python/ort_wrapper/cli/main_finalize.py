"""``ort-wrapper finalize``: write a new distribution from a CMake install prefix and build tree
(merged archive, ordered link flags, pkg-config file, manifest); the prefix is only read."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = (
    "write a new distribution (--out) from a CMake build and install of ONNX Runtime, which "
    "are only read (a rerun replaces --out whole; absorbs every dependency member unless --prune)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "prefix", type=Path, help="the install prefix (lib/, include/, share/), only read"
    )
    parser.add_argument("--build-dir", type=Path, required=True, help="the CMake build tree")
    parser.add_argument("--variant", required=True, help="variant of pkgs/variants.json")
    parser.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="the distribution to write (required): absent, empty, or an earlier distribution, "
        "which is replaced; outside PREFIX and the build tree",
    )
    parser.add_argument(
        "--ort-version", help="ONNX Runtime version (default: the source's VERSION_NUMBER)"
    )
    parser.add_argument(
        "--source-hash", help="hash of the ORT source (e.g. the Nix fetcher's), recorded"
    )
    parser.add_argument(
        "--patches-applied",
        action="append",
        default=[],
        metavar="NAME",
        help="a patch applied to the source, recorded (repeat, in order)",
    )
    parser.add_argument(
        "--sysroot",
        type=Path,
        help="where the build's absolute paths lie on this machine (a chroot's root)",
    )
    parser.add_argument(
        "--lib-dir",
        action="append",
        default=[],
        metavar="DIR",
        help="another folder to take dependency libraries from, as the build saw it, before "
        "those the build found (repeat)",
    )
    parser.add_argument(
        "--prune",
        action="store_true",
        help="absorb only the dependency members (abseil ...) the link uses; off by default "
        "here (every member of every candidate archive), while `build` prunes by default",
    )
    parser.add_argument(
        "--operators-config",
        type=Path,
        metavar="FILE",
        help="the operator config a reduced build was made with (`reduce-config` writes "
        "one): recorded in the manifest, so `check` knows the distribution is reduced",
    )


def run(args: argparse.Namespace) -> int:
    from ..finalize.stage import finalize
    from ..matrix import load_matrix
    from ..operators import read_config

    if args.out is None:
        args.error(
            "--out DIR is required: finalize writes a new distribution there and never edits "
            f"the prefix {args.prefix} (earlier versions edited it in place)"
        )
    variant = load_matrix().variant(args.variant)
    manifest = finalize(
        args.prefix,
        args.build_dir,
        variant,
        args.out,
        version=args.ort_version,
        sysroot=args.sysroot,
        lib_dirs=args.lib_dir,
        source={"hash": args.source_hash} if args.source_hash else None,
        patches=[{"patch": name, "status": "applied"} for name in args.patches_applied],
        prune=args.prune,
        reduced_for=read_config(args.operators_config) if args.operators_config else None,
    )
    print(
        f"{args.out}: ONNX Runtime {manifest.version}, variant {manifest.variant} "
        f"({manifest.link_mode}), {len(manifest.files)} files, "
        f"{len(manifest.link_flags)} link flags"
    )
    return 0

"""``ort-wrapper wheel``: a platform wheel of ort-wrapper carrying a bundled ONNX Runtime."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HELP = "build an ort-wrapper wheel carrying a bundle (cpu by default, --cuda) and auditwheel it"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--dist",
        type=Path,
        metavar="SRC",
        help="distribution to carry (as for `ort-wrapper bundle`); default: the installed "
        "onnxruntime package, CPU provider only",
    )
    source.add_argument(
        "--cuda",
        action="store_true",
        help="carry the installed onnxruntime-gpu with its CUDA closure (site-packages "
        "nvidia/*/lib is searched)",
    )
    parser.add_argument("--out-dir", type=Path, required=True, metavar="DIR")
    parser.add_argument(
        "--search-dir", type=Path, action="append", default=[], metavar="DIR",
        help="extra directory to find needed libraries in (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--provider", action="append", default=None, metavar="NAME",
        help="runtime-loaded providers to carry (default: cpu; with --cuda: cuda)",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars")


def _installed_package(cuda: bool) -> tuple[Path, list[Path]]:
    import importlib.util

    from ..errors import BundleError
    from ..matrix import load_matrix
    from ..runtime.catalog import provider_spec

    spec = importlib.util.find_spec("onnxruntime")
    if spec is None or not spec.submodule_search_locations:
        raise BundleError("no onnxruntime package is installed here; pass --dist SRC")
    package = Path(spec.submodule_search_locations[0])
    if not cuda:
        return package, []
    cuda_spec = provider_spec("CUDAExecutionProvider")
    assert cuda_spec is not None and cuda_spec.library
    if not (package / "capi" / cuda_spec.library).exists():
        version = load_matrix().ort_version
        raise BundleError(
            f"--cuda needs onnxruntime-gpu, but {package} has no capi/{cuda_spec.library} "
            f"(pip install 'onnxruntime-gpu[cuda,cudnn]=={version}', or pass --dist SRC)"
        )
    return package, sorted(package.parent.glob("nvidia/*/lib"))


def run(args: argparse.Namespace) -> int:
    from ..bundle.wheel import make_wheel
    from ..escape import terminal_text

    if args.dist is not None:
        src, found_dirs = args.dist, []
    else:
        src, found_dirs = _installed_package(args.cuda)
    providers = args.provider or (["cuda"] if args.cuda else ["cpu"])
    result = make_wheel(
        src,
        args.out_dir,
        search_dirs=[*args.search_dir, *found_dirs],
        providers=providers,
        quiet=args.quiet,
    )
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        tag = result.lowest_manylinux or result.platform_tag
        print(
            terminal_text(
                f"wheel: {result.path}\nplatform tag (auditwheel, lowest allowed): {tag}\n"
                f"carries {result.bundle.variant} {result.bundle.version}: "
                f"{result.bundle.files} files, {result.bundle.total_bytes / 2**20:.1f} MiB"
            )
        )
    return 0

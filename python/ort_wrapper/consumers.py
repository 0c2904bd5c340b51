"""What a consumer's build needs to link a distribution, computed in one place: the variables
the ``ort`` crate, pkg-config and CMake read (``ort-wrapper env`` prints them; the dev shells set
the same values).

Only files are read: the manifest, or for a plain directory its ELF libraries (the core one
chosen by ``Distribution.core_library``'s rule). Nothing of the distribution runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import InitError
from .finalize.cmakepkg import CMAKE_DIR, core_library
from .finalize.pkgconfig import PC_RELPATH
from .manifest import MANIFEST_RELPATH, LinkMode, load_manifest
from .runtime.distribution import CORE_GLOB, Distribution, DistributionKind

__all__ = ["LINK_NAME", "PATH_LISTS", "ConsumerEnv", "consumer_env"]

# What `-lonnxruntime` (the ort crate's dynamic link, pkg-config's Libs) looks for.
LINK_NAME = "libonnxruntime.so"
# Variables holding a list of folders: prepended to, never replaced, where a shell sets them.
PATH_LISTS = ("PKG_CONFIG_PATH", "CMAKE_PREFIX_PATH", "LD_LIBRARY_PATH")


@dataclass(frozen=True)
class ConsumerEnv:
    """A distribution's consumer variables, in the order printed, and what a user should know
    (a variable alone cannot fix it)."""

    root: Path
    link_mode: LinkMode
    variables: tuple[tuple[str, str], ...]
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "distribution": str(self.root),
            "linkMode": self.link_mode.value,
            "variables": dict(self.variables),
            "pathLists": [name for name, _ in self.variables if name in PATH_LISTS],
            "notes": list(self.notes),
        }


def _core(root: Path) -> tuple[Path, LinkMode, tuple[str, ...]]:
    """The core library's path, how it links, and notes on what it still needs."""
    if (root / MANIFEST_RELPATH).is_file():
        manifest = load_manifest(root)
        rel = core_library(manifest.files)
        if rel is None:
            raise InitError(f"{root}: its manifest lists no libonnxruntime library to link")
        static = rel.endswith(".a")
        notes = () if not static else _static_notes(manifest.extra)
        return root / rel, LinkMode.STATIC if static else LinkMode.SHARED, notes
    core = Distribution(DistributionKind.DIRECTORY, root, "argument").core_library()
    if core is None:
        raise InitError(
            f"{root} is not a distribution: no {MANIFEST_RELPATH} and no {CORE_GLOB} in it "
            "or its lib/ (point at an ONNX Runtime prefix or the folder holding the library)"
        )
    return core, LinkMode.SHARED, ()


def _static_notes(extra: dict[str, object]) -> tuple[str, ...]:
    shared = extra.get("sharedLibraries")
    if extra.get("selfContained", True) or not isinstance(shared, list):
        return ()
    names = ", ".join(str(e.get("name")) for e in shared if isinstance(e, dict))
    return (
        f"libonnxruntime.a still needs the shared libraries {names}: the ort crate links them "
        "only through pkg-config (ort 2.0.0-rc.3 to rc.10, or rc.11+ with its pkg-config "
        "feature); ort-wrapper link-flags lists them for other builds",
    )


def _shared_notes(folder: Path) -> tuple[str, ...]:
    if (folder / LINK_NAME).exists():
        return ()
    return (
        f"{folder} has no {LINK_NAME}, the name -lonnxruntime (the ort crate, pkg-config) "
        "looks for: `ort-wrapper bundle` writes one, or link it by full path "
        "(ort-wrapper link-flags)",
    )


def consumer_env(root: Path) -> ConsumerEnv:
    """The variables that make ``root``'s distribution the one a consumer's build links:
    ``ORT_WRAPPER_DIST`` (the root, as ``init()`` reads it), ``ORT_LIB_LOCATION`` (the folder
    holding the library, as the ``ort`` crate reads it), ``ORT_PREFER_DYNAMIC_LINK`` for a
    shared library, ``LD_LIBRARY_PATH`` to run what links it, and ``PKG_CONFIG_PATH`` and
    ``CMAKE_PREFIX_PATH`` where the distribution has a .pc file or a CMake package.
    InitError when ``root`` is no distribution or its manifest is broken."""
    root = Path(root).absolute()
    if not root.is_dir():
        raise InitError(f"{root} is not a directory (expected an ONNX Runtime distribution)")
    core, mode, notes = _core(root)
    folder = core.parent
    variables = [("ORT_WRAPPER_DIST", str(root)), ("ORT_LIB_LOCATION", str(folder))]
    if mode == LinkMode.SHARED:
        variables += [("ORT_PREFER_DYNAMIC_LINK", "1"), ("LD_LIBRARY_PATH", str(folder))]
        notes += _shared_notes(folder)
    if (root / PC_RELPATH).is_file():
        variables.append(("PKG_CONFIG_PATH", str((root / PC_RELPATH).parent)))
    if (root / CMAKE_DIR).is_dir():
        variables.append(("CMAKE_PREFIX_PATH", str(root)))
    return ConsumerEnv(root, mode, tuple(variables), notes)

"""Why an execution provider is or is not usable: the one implementation behind strict sessions,
``ort-wrapper check``'s providers section and ``ort-wrapper doctor``.

A provider is usable when it is compiled in, its library (if ORT dlopens one) is present with
every soname of its closure resolvable (from the search path or already loaded in this process),
and the device it drives is present. :func:`manifest_check` is the other provider rule
``check`` and ``doctor`` share: a manifest's providers against the runtime's, and
:func:`version_check` their one version policy: another ONNX Runtime release than the pin is
information (what differs: the C API level), never a failure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..elf.resolve import Closure, resolve_closure
from ..errors import VariantError
from ..matrix import api_version_for, load_matrix
from ..report import FAIL, INFO, PASS, WARN, Check, Kind
from .catalog import SonameSource, provider_spec, shared_bridge, soname_source
from .gpu import nvidia_driver, nvidia_wheel_dirs
from .procmaps import loaded_libraries

__all__ = [
    "MissingLibrary",
    "ProviderStatus",
    "manifest_check",
    "provider_status",
    "version_check",
]


@dataclass(frozen=True)
class MissingLibrary:
    """A soname the provider needs that the dynamic loader would not find."""

    soname: str
    needed_by: tuple[str, ...]
    source: SonameSource

    def describe(self, direct: str = "") -> str:
        """The soname, with who needs it unless that is only ``direct`` (the provider library)."""
        if self.needed_by == (direct,):
            return self.soname
        return f"{self.soname} (needed by {', '.join(self.needed_by)})"


@dataclass(frozen=True)
class ProviderStatus:
    """Everything known about one provider without creating a session."""

    name: str
    compiled_in: bool
    library: Path | None = None
    library_present: bool = True
    closure: Closure | None = None
    missing: tuple[MissingLibrary, ...] = ()
    device_problem: str | None = None
    available: tuple[str, ...] = ()
    # What this process had mapped when diagnosed (one read of /proc/self/maps per diagnosis).
    loaded: frozenset[str] = frozenset()

    @property
    def loadable(self) -> bool:
        """True when nothing this module can see stops the provider from loading and running."""
        return (
            self.compiled_in
            and self.library_present
            and not self.missing
            and self.device_problem is None
        )

    @property
    def needs_preload(self) -> tuple[str, ...]:
        """Sonames found only in the search directories (the nvidia-* wheels by default), which
        the dynamic loader does not search, and not already loaded in this process."""
        if self.closure is None:
            return ()
        return tuple(
            lib.soname
            for lib in self.closure.libraries.values()
            if lib.source == "search-dir" and lib.soname not in self.loaded
        )

    def problem(self) -> str:
        """Why the provider cannot be used, without the fix; empty when no reason is visible
        from outside ORT."""
        if not self.compiled_in:
            return (
                f"{self.name} is not compiled into this ONNX Runtime "
                f"(compiled in: {', '.join(self.available) or 'nothing'})"
            )
        if not self.library_present:
            return f"{self.name}'s library {self.library} is missing from the distribution"
        lib = self.library.name if self.library else self.name
        if self.missing:
            missing = ", ".join(m.describe(lib) for m in self.missing)
            return f"{lib} cannot be loaded: missing {missing}"
        if self.needs_preload:
            return (
                f"{lib} cannot be loaded: {', '.join(self.needs_preload)} are installed (nvidia-* "
                "wheels) but not on the loader's path"
            )
        if self.device_problem:
            return f"{self.name} has no device: {self.device_problem}"
        return ""

    def reason(self) -> str:
        """:meth:`problem` in one line for sessions and check; a missing or unreachable library
        carries its :meth:`fix` after "; fix: "."""
        problem = self.problem()
        if self.compiled_in and self.library_present and (self.missing or self.needs_preload):
            return f"{problem}; fix: {self.fix()}"
        return problem

    def fix(self) -> str:
        """One command (or note) that supplies what :meth:`reason` names; empty when nothing."""
        if not self.compiled_in:
            return f"use an ONNX Runtime build that includes {self.name}"
        if not self.library_present:
            return f"reinstall the distribution: {self.library} belongs to it"
        if self.missing:
            return _install_command(tuple(m.source for m in self.missing))
        if self.needs_preload:
            return _PRELOAD_FIX
        if self.device_problem:
            return soname_source("libcuda.so.1").system or "install the device's driver"
        return ""


def manifest_check(
    claimed: Sequence[str] | None,
    available: Sequence[str],
    left_out: frozenset[str] = frozenset(),
) -> Check:
    """The rule "manifest vs runtime providers", shared by ``check`` and ``doctor``: the
    manifest's providers (``claimed``; None without a manifest) against what the runtime reports
    compiled in. Claiming one the runtime lacks fails; a compiled-in one the manifest omits
    warns, unless a bundle left its library out on purpose (``left_out``: library file names)."""
    names = ", ".join(available)
    data: dict[str, object] = {
        "manifest": list(claimed) if claimed is not None else None,
        "runtime": list(available),
    }
    if claimed is None:
        return Check(_MANIFEST, INFO, "no manifest: the runtime's list is the claim", data)
    if not claimed:
        return Check(_MANIFEST, INFO, f"nothing claimed (no manifest); compiled in: {names}", data)
    lacking = [p for p in claimed if p not in available]
    unclaimed = [
        p
        for p in available
        if p not in claimed and getattr(provider_spec(p), "library", None) not in left_out
    ]
    data.update(notCompiledIn=lacking, unclaimed=unclaimed)
    if lacking:
        fact = (
            f"the manifest claims {', '.join(lacking)}, which the runtime does not have compiled "
            f"in (it has {names})"
        )
        fix = "rebuild the distribution with that provider, or regenerate its manifest"
        return Check(_MANIFEST, FAIL, fact, data, fix)
    if unclaimed:
        fact = f"compiled in but not in the manifest: {', '.join(unclaimed)}"
        return Check(_MANIFEST, WARN, fact, data, "regenerate the manifest (ort-wrapper finalize)")
    return Check(
        _MANIFEST, PASS, f"the manifest lists what the runtime has compiled in: {names}", data
    )


_MANIFEST = Kind.PROVIDER_MANIFEST


def _install_command(sources: Sequence[SonameSource]) -> str:
    """pip for what PyPI ships (one command, then preload), the flake and notes for the rest."""
    requirements = list(dict.fromkeys(s.requirement for s in sources if s.requirement))
    notes = list(dict.fromkeys(s.fix for s in sources if not s.requirement))
    parts = []
    if requirements:
        quoted = " ".join(f"'{r}'" for r in requirements)
        load = (
            _PRELOAD_FIX.replace("the nvidia-* wheels'", "their")
            if any(r.startswith("nvidia-") for r in requirements)
            else "put their lib directory on LD_LIBRARY_PATH"
        )
        parts.append(f"pip install {quoted}, then {load}")
    flakes = {s.flake for s in sources}
    if len(flakes) == 1 and None not in flakes:
        parts.append(f"or use this flake's bundled build: nix build .#{flakes.pop()}")
    return "; ".join(parts + notes)


_PRELOAD_FIX = (
    "call onnxruntime.preload_dlls() before the first session, or put the nvidia-* wheels' "
    "site-packages/nvidia/*/lib on LD_LIBRARY_PATH"
)


def loaded_sonames() -> frozenset[str]:
    """Names the mapped libraries answer to: each file name and its shorter version suffixes
    (``libcudart.so.12.9.79`` also counts as ``libcudart.so.12``), as sonames are made."""
    names = set()
    for path in loaded_libraries():
        name = path.name
        while ".so." in name:
            names.add(name)
            name = name.rsplit(".", 1)[0]
        names.add(name)
    return frozenset(names)


def _find_library(name: str, library_dirs: Iterable[Path]) -> Path | None:
    for directory in library_dirs:
        if (directory / name).exists():
            return directory / name
    return None


def provider_status(
    name: str,
    *,
    available: Sequence[str],
    library_dirs: Sequence[Path],
    search_dirs: Sequence[Path] | None = None,
    ld_library_path: str | None = None,
) -> ProviderStatus:
    """Diagnose provider ``name`` (ORT spelling) of a distribution.

    ``available`` is what the distribution reports as compiled in; ``library_dirs`` are where
    its provider libraries live; ``search_dirs`` are searched after LD_LIBRARY_PATH (default:
    the installed nvidia-* wheels' lib directories, so a library installed there but not on
    the loader's path is reported as needing a preload, not as missing).
    """
    if search_dirs is None:
        search_dirs = nvidia_wheel_dirs()
    available = tuple(available)
    if name not in available:
        return ProviderStatus(name, False, available=available)
    spec = provider_spec(name)
    if spec is None or spec.library is None:
        return ProviderStatus(name, True, available=available)
    library = _find_library(spec.library, library_dirs)
    if library is None:
        where = Path(library_dirs[0]) / spec.library if library_dirs else Path(spec.library)
        return ProviderStatus(name, True, where, False, available=available)
    closure = resolve_closure(library, search_dirs=search_dirs, ld_library_path=ld_library_path)
    loaded = loaded_sonames()
    missing = [
        MissingLibrary(lib.soname, lib.needed_by, soname_source(lib.soname))
        for lib in closure.missing
        if lib.soname not in loaded
    ]
    if _find_library(shared_bridge(), library_dirs) is None:
        missing.append(
            MissingLibrary(shared_bridge(), (library.name,), soname_source(shared_bridge()))
        )
    device_problem = None
    if spec.device == "nvidia":
        driver = nvidia_driver()
        if not driver.found or driver.error:
            device_problem = driver.summary
    return ProviderStatus(
        name, True, library, True, closure, tuple(missing), device_problem, available, loaded
    )


def _api(version: str) -> str:
    try:
        return f"C API {api_version_for(version)}"
    except VariantError:
        return "C API unknown"


def version_check(version: str | None, what: str = "the distribution", fix: str = "") -> Check:
    """``dist.version``, the one version policy of ``check`` and ``doctor``: ``version`` (of
    ``what``) against the project's pin. Another release is information saying what differs
    (the C API level), never a failure: nothing either tool runs needs the pinned release.
    ``fix`` is how to get the pinned one, shown when they differ."""
    pinned = load_matrix().ort_version
    if version == pinned:
        fact = f"{what} is ONNX Runtime {version} ({_api(version)}), the release this toolkit pins"
        return Check(Kind.DIST_VERSION, PASS, fact, {"version": version, "pinned": pinned})
    ours, theirs = _api(pinned), _api(version) if version else "C API unknown"
    fact = (
        f"{what} is ONNX Runtime {version or 'of an unknown release'} ({theirs}); this toolkit "
        f"builds and tests {pinned} ({ours}): sessions use the functions its {theirs} has, and "
        "nothing asked for here needs the pinned release"
    )
    data = {"version": version, "pinned": pinned, "api": theirs, "pinnedApi": ours}
    return Check(Kind.DIST_VERSION, INFO, fact, data, fix)

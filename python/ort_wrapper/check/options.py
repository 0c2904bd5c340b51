"""What a check run is asked to do: sections, extra models with their inputs, run counts and
time limits, tolerances, and whether to say on stderr which section starts."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .compare import DEFAULT_ATOL, DEFAULT_RTOL
from .inputs import ModelSpec

__all__ = [
    "DETERMINISM_SECONDS",
    "SECTIONS",
    "SESSION_SECTIONS",
    "STABILITY_SECONDS",
    "CheckOptions",
    "announce",
]

SECTIONS = ("linking", "providers", "quality", "determinism", "stability")
SESSION_SECTIONS = SECTIONS[1:]  # need sessions, so a process that loads the distribution
# Time limits per model: keep `check --model` on a model of up to 10 MB under a minute on 2 cores.
DETERMINISM_SECONDS = 10.0  # the repeated runs (and each GPU spread)
STABILITY_SECONDS = 20.0  # per provider, after the warm-up


@dataclass(frozen=True)
class CheckOptions:
    """Options of one check run (the CLI's flags)."""

    sections: tuple[str, ...] = SECTIONS
    models: tuple[ModelSpec | Path, ...] = ()
    stability_runs: int = 1000
    determinism_runs: int = 20
    stability_seconds: float = STABILITY_SECONDS
    determinism_seconds: float = DETERMINISM_SECONDS
    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL
    write_baseline: bool = False
    baseline_dir: Path | None = None
    quiet: bool = False
    timeout_s: float = 900.0
    log_level: str = "fatal"  # ONNX Runtime's own log lines from this level up (its errors are
    # already in the report)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sections", tuple(dict.fromkeys(self.sections)))  # each once
        specs = tuple(m if isinstance(m, ModelSpec) else ModelSpec(Path(m)) for m in self.models)
        object.__setattr__(self, "models", specs)  # a bare path: a model on synthetic inputs
        unknown = [s for s in self.sections if s not in SECTIONS]
        if unknown or not self.sections:
            raise ValueError(
                f"unknown section(s) {', '.join(unknown) or '(none given)'}; "
                f"choose from {', '.join(SECTIONS)}"
            )
        if self.stability_runs < 1 or self.determinism_runs < 1:
            raise ValueError("run counts must be at least 1")
        if min(self.stability_seconds, self.determinism_seconds) <= 0:
            raise ValueError("time limits must be above 0 s")
        if min(self.rtol, self.atol) < 0:
            raise ValueError("tolerances cannot be negative")

    def to_json(self) -> dict[str, Any]:
        """The JSON form handed to the worker process."""
        return {
            "sections": list(self.sections),
            "models": [m.to_json() for m in self.models],
            "stabilityRuns": self.stability_runs,
            "determinismRuns": self.determinism_runs,
            "stabilitySeconds": self.stability_seconds,
            "determinismSeconds": self.determinism_seconds,
            "rtol": self.rtol,
            "atol": self.atol,
            "writeBaseline": self.write_baseline,
            "baselineDir": str(self.baseline_dir) if self.baseline_dir else None,
            "quiet": self.quiet,
            "timeoutS": self.timeout_s,
            "logLevel": self.log_level,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CheckOptions:
        """Rebuild options from their JSON form."""
        return cls(
            sections=tuple(data["sections"]),
            models=tuple(ModelSpec.from_json(m) for m in data["models"]),
            stability_runs=data["stabilityRuns"],
            determinism_runs=data["determinismRuns"],
            stability_seconds=data["stabilitySeconds"],
            determinism_seconds=data["determinismSeconds"],
            rtol=data["rtol"],
            atol=data["atol"],
            write_baseline=data["writeBaseline"],
            baseline_dir=Path(data["baselineDir"]) if data["baselineDir"] else None,
            quiet=data["quiet"],
            timeout_s=data["timeoutS"],
            log_level=data["logLevel"],
        )


def announce(section: str, quiet: bool) -> None:
    """Say on stderr which section starts (progress for the sections without a bar), unless
    ``quiet`` (``CheckOptions.quiet``)."""
    if not quiet:
        print(f"ort-wrapper check: {section} ...", file=sys.stderr, flush=True)

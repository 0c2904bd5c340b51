"""What a check run is asked to do: sections, extra models and run counts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["SECTIONS", "SESSION_SECTIONS", "CheckOptions"]

SECTIONS = ("linking", "providers", "quality", "determinism", "stability")
SESSION_SECTIONS = SECTIONS[1:]  # need sessions, so a process that loads the distribution


@dataclass(frozen=True)
class CheckOptions:
    """Options of one check run (the CLI's flags)."""

    sections: tuple[str, ...] = SECTIONS
    models: tuple[Path, ...] = ()
    stability_runs: int = 1000
    determinism_runs: int = 20
    write_baseline: bool = False
    baseline_dir: Path | None = None
    quiet: bool = False
    timeout_s: float = 900.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "sections", tuple(dict.fromkeys(self.sections)))  # each once
        unknown = [s for s in self.sections if s not in SECTIONS]
        if unknown or not self.sections:
            raise ValueError(
                f"unknown section(s) {', '.join(unknown) or '(none given)'}; "
                f"choose from {', '.join(SECTIONS)}"
            )
        if self.stability_runs < 1 or self.determinism_runs < 1:
            raise ValueError("run counts must be at least 1")

    def to_json(self) -> dict[str, Any]:
        """The JSON form handed to the worker process."""
        return {
            "sections": list(self.sections),
            "models": [str(m) for m in self.models],
            "stabilityRuns": self.stability_runs,
            "determinismRuns": self.determinism_runs,
            "writeBaseline": self.write_baseline,
            "baselineDir": str(self.baseline_dir) if self.baseline_dir else None,
            "quiet": self.quiet,
            "timeoutS": self.timeout_s,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CheckOptions:
        """Rebuild options from their JSON form."""
        return cls(
            sections=tuple(data["sections"]),
            models=tuple(Path(m) for m in data["models"]),
            stability_runs=data["stabilityRuns"],
            determinism_runs=data["determinismRuns"],
            write_baseline=data["writeBaseline"],
            baseline_dir=Path(data["baselineDir"]) if data["baselineDir"] else None,
            quiet=data["quiet"],
            timeout_s=data["timeoutS"],
        )

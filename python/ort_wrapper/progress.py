"""Progress on standard error for long work: a bar on a terminal, sparse lines otherwise."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    """Count work done towards a total (items or bytes) and show it on stderr.

    On a terminal the bar is redrawn at most ten times a second; elsewhere (CI logs) one line
    is printed per 10 % step, so logs stay short. ``quiet=True`` prints nothing.
    """

    def __init__(
        self,
        label: str,
        total: int,
        *,
        unit: str = "",
        quiet: bool = False,
        stream: TextIO | None = None,
    ) -> None:
        self.label, self.total, self.unit, self.quiet = label, max(total, 0), unit, quiet
        self.stream = stream or sys.stderr
        self.done = 0
        self._tty = self.stream.isatty()
        self._last_draw = 0.0
        self._last_decile = -1
        self._start = time.monotonic()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(ok=exc is None)

    def advance(self, amount: int = 1) -> None:
        """Record ``amount`` more units of work done."""
        self.done += amount
        self._draw()

    def _fmt(self, value: int) -> str:
        if self.unit == "B":
            for suffix in ("B", "KiB", "MiB", "GiB"):
                if value < 1024 or suffix == "GiB":
                    return f"{value:.0f} {suffix}" if suffix == "B" else f"{value:.1f} {suffix}"
                value /= 1024
        return f"{value}{self.unit}"

    def _draw(self, final: bool = False) -> None:
        if self.quiet:
            return
        frac = self.done / self.total if self.total else 1.0
        if self._tty:
            now = time.monotonic()
            if not final and now - self._last_draw < 0.1:
                return
            self._last_draw = now
            bar = "#" * int(frac * 30)
            self.stream.write(
                f"\r{self.label} [{bar:<30}] {self._fmt(self.done)}/{self._fmt(self.total)}"
            )
            if final:
                self.stream.write("\n")
        else:
            decile = int(frac * 10)
            if decile == self._last_decile and not final:
                return
            self._last_decile = decile
            self.stream.write(
                f"{self.label}: {self._fmt(self.done)}/{self._fmt(self.total)} ({frac:.0%})\n"
            )
        self.stream.flush()

    def close(self, ok: bool = True) -> None:
        """Finish the display; on failure leave the last state visible."""
        if ok:
            elapsed = time.monotonic() - self._start
            if not self.quiet and self._tty:
                self._draw(final=True)
            elif not self.quiet:
                self.stream.write(f"{self.label}: done in {elapsed:.1f} s\n")
                self.stream.flush()

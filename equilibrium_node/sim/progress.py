"""A progress bar for long simulations, on stderr.

On a terminal: one line redrawn in place at most ten times a second
(``simulate [##########----------]  50%  linear  60/120 min  12.3 s``). Elsewhere (a pipe, a CI log):
a plain line at every tenth of the work, so logs stay readable. ``quiet`` shows nothing.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 28
REDRAW_S = 0.1


class Progress:
    """Counts steps of several runs and draws them."""

    def __init__(self, total_steps: int, steps_per_run: int, minutes: float, *, stream: TextIO | None = None,
                 label: str = "simulate", quiet: bool = False) -> None:
        self.total = max(1, total_steps)
        self.per_run = max(1, steps_per_run)
        self.minutes = minutes
        self.stream = stream if stream is not None else sys.stderr
        self.label = label
        self.quiet = quiet
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.done = 0
        self.started = time.perf_counter()
        self._drawn = 0.0
        self._decile = -1

    def advance(self, run: str, steps: int = 1) -> None:
        """``steps`` more steps of ``run`` are done."""
        self.done = min(self.total, self.done + steps)
        if self.quiet:
            return
        if self.tty:
            now = time.perf_counter()
            if now - self._drawn >= REDRAW_S or self.done == self.total:
                self._drawn = now
                self.stream.write("\r" + self.line(run) + "\x1b[K")  # clear what a longer line left
                if self.done == self.total:
                    self.stream.write("\n")
                self.stream.flush()
            return
        decile = self.done * 10 // self.total
        if decile != self._decile:
            self._decile = decile
            self.stream.write(self.line(run) + "\n")
            self.stream.flush()

    def line(self, run: str) -> str:
        """The text of the bar now."""
        frac = self.done / self.total
        filled = round(frac * WIDTH)
        in_run = (self.done - 1) % self.per_run + 1 if self.done else 0
        minutes = in_run / self.per_run * self.minutes
        bar = f"[{'#' * filled}{'-' * (WIDTH - filled)}] " if self.tty else ""
        return (f"{self.label} {bar}{frac:4.0%}  {run}  {minutes:.0f}/{self.minutes:g} min  "
                f"{time.perf_counter() - self.started:.1f} s")


__all__ = ["Progress"]

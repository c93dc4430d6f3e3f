"""A progress bar for long command-line jobs, on stderr: redrawn in place on a terminal, plain lines otherwise.

On a terminal: ``snapshots  [############------------]  50%   120,000/240,000  3.1 s`` redrawn at most
ten times a second. Elsewhere (a pipe, a CI log): one line per tenth of the work, so a log stays short
and readable: ``export: snapshots 50% (120,000/240,000)`` (none for a job done within a second). The last
line says what was done and how long it took in both cases.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

BAR_WIDTH = 24
REDRAW_S = 0.1


class Progress:
    """Progress of one job of ``total`` units (records); ``total`` may grow while it runs."""

    def __init__(self, label: str, total: int, *, out: TextIO | None = None, tty: bool | None = None,
                 prefix: str = "export", quiet_s: float = 1.0) -> None:
        self.label = label
        self.total = max(0, total)
        self.out = out if out is not None else sys.stderr
        self.tty = self.out.isatty() if tty is None else tty
        self.prefix = prefix
        #: plain mode: no intermediate lines during the first ``quiet_s`` (a quick job just says it is done)
        self.quiet_s = quiet_s
        self.done = 0
        self.started = time.monotonic()
        self._last_draw = 0.0
        self._last_tenth = 0  # no "0%" line
        self._finished = False

    def _fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 1.0

    def update(self, done: int) -> None:
        """Set the units done so far (draws when due)."""
        self.done = done
        if self.done > self.total:
            self.total = self.done
        if self.tty:
            now = time.monotonic()
            if now - self._last_draw >= REDRAW_S:
                self._last_draw = now
                self._draw()
        elif time.monotonic() - self.started >= self.quiet_s:
            tenth = int(self._fraction() * 10)
            if tenth > self._last_tenth and tenth < 10:
                self._last_tenth = tenth
                self.out.write(f"{self.prefix}: {self.label} {tenth * 10}% ({self.done:,}/{self.total:,})\n")
                self.out.flush()

    def _draw(self) -> None:
        fraction = self._fraction()
        filled = int(fraction * BAR_WIDTH)
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        elapsed = time.monotonic() - self.started
        self.out.write(f"\r{self.label:<10} [{bar}] {fraction * 100:3.0f}%  {self.done:>11,}/{self.total:,}"
                       f"  {elapsed:.1f} s ")
        self.out.flush()

    def finish(self, note: str = "") -> None:
        """Draw 100 % and end the line with the count and time (once)."""
        if self._finished:
            return
        self._finished = True
        self.total = self.done  # finished: whatever was counted is all there was
        elapsed = time.monotonic() - self.started
        tail = f": {self.done:,} records in {elapsed:.1f} s{f' ({note})' if note else ''}"
        if self.tty:
            self._draw()
            self.out.write(f"\n{self.label}{tail}\n")
        else:
            self.out.write(f"{self.prefix}: {self.label} done{tail}\n")
        self.out.flush()


__all__ = ["Progress"]

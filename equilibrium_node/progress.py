"""The progress bar of long command-line jobs (``export``, ``simulate``), on stderr.

On a terminal: ``snapshots  [############------------]  50%      120,000/240,000  3.1 s`` redrawn in
place at most ten times a second, with the job's own detail after it (``linear 60/120 min``).
Elsewhere (a pipe, a CI log): one line per tenth of the work, so a log stays short and readable:
``export: snapshots 50% (120,000/240,000)`` (none for a job done within ``quiet_s``). The last line says
what was done and how long it took in both cases. ``quiet`` shows nothing at all.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

BAR_WIDTH = 24
REDRAW_S = 0.1


class Progress:
    """Progress of one job of ``total`` units; ``total`` may grow while it runs."""

    def __init__(self, label: str, total: int, *, out: TextIO | None = None, tty: bool | None = None,
                 prefix: str = "", quiet_s: float = 1.0, unit: str = "records", quiet: bool = False) -> None:
        self.label = label
        self.total = max(0, total)
        self.out = out if out is not None else sys.stderr
        self.tty = bool(getattr(self.out, "isatty", lambda: False)()) if tty is None else tty
        self.lead = f"{prefix}: {label}" if prefix else label
        #: plain mode: no intermediate lines during the first ``quiet_s`` (a quick job just says it is done)
        self.quiet_s = quiet_s
        self.unit = unit
        self.quiet = quiet
        self.done = 0
        self.detail = ""
        self.started = time.monotonic()
        self._last_draw = 0.0
        self._last_tenth = 0  # no "0%" line
        self._finished = False

    def _fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 1.0

    def update(self, done: int, detail: str = "") -> None:
        """Set the units done so far and the job's own detail (draws when due)."""
        self.done = done
        self.detail = detail
        if self.done > self.total:
            self.total = self.done
        if self.quiet:
            return
        if self.tty:
            now = time.monotonic()
            if now - self._last_draw >= REDRAW_S:
                self._last_draw = now
                self._draw()
        elif time.monotonic() - self.started >= self.quiet_s:
            tenth = int(self._fraction() * 10)
            if tenth > self._last_tenth and tenth < 10:
                self._last_tenth = tenth
                extra = f"  {detail}" if detail else ""
                self.out.write(f"{self.lead} {tenth * 10}% ({self.done:,}/{self.total:,}){extra}\n")
                self.out.flush()

    def _draw(self) -> None:
        fraction = self._fraction()
        filled = int(fraction * BAR_WIDTH)
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        elapsed = time.monotonic() - self.started
        extra = f"  {self.detail}" if self.detail else ""
        # \x1b[K clears what a longer previous line left
        self.out.write(f"\r{self.label:<10} [{bar}] {fraction * 100:3.0f}%  {self.done:>11,}/{self.total:,}"
                       f"  {elapsed:.1f} s{extra}\x1b[K")
        self.out.flush()

    def finish(self, note: str = "") -> None:
        """Draw 100 % and end the line with the count and time (once)."""
        if self._finished:
            return
        self._finished = True
        if self.quiet:
            return
        self.total = self.done  # finished: whatever was counted is all there was
        elapsed = time.monotonic() - self.started
        tail = f": {self.done:,} {self.unit} in {elapsed:.1f} s{f' ({note})' if note else ''}"
        if self.tty:
            self._draw()
            self.out.write(f"\n{self.label}{tail}\n")
        else:
            self.out.write(f"{self.lead} done{tail}\n")
        self.out.flush()


__all__ = ["Progress"]

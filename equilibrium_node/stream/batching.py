"""When the hub flushes: one batch per burst of KV changes, about one batch per pricing tick.

The leader writes a tick's surge updates as a burst. A batch starts with the first change after a
flush and is due when

1. its burst is over: no change for :data:`QUIET_S`, or a whole tick after its first change when
   changes never pause (a steady trickle, or a burst longer than a tick, goes out once per tick); and
2. at least :data:`MIN_GAP_TICKS` of a tick after the previous batch was due. A batch whose burst was
   already over before that (the tail of a burst split by a pause) waits until a full tick plus
   :data:`GRACE_TICKS` after the previous batch, so the next tick's burst joins it instead of
   following it a moment later.

In steady state every viewport group gets exactly one delta per leader tick, right after the burst;
two deltas are never due less than three quarters of a tick apart. Gaps are counted from when the
previous batch was *due*, not from when it was flushed, and are shorter than a tick, so a late flush
(a busy loop, a long burst) costs at most a few ticks of catching up, never a lasting delay. Pure
arithmetic over explicit times, tested on its own.
"""

from __future__ import annotations

#: a burst of KV changes is over once no change came for this long
QUIET_S = 0.02
#: the least gap between two batches, in ticks
MIN_GAP_TICKS = 0.75
#: how long past a tick the tail of a split burst waits for the next burst to join it, in ticks
GRACE_TICKS = 0.1


class BatchClock:
    """Batch boundaries for a tick of ``tick_s`` seconds."""

    __slots__ = ("last_change", "previous_due", "start", "tick_s")

    def __init__(self, tick_s: float) -> None:
        self.tick_s = tick_s
        self.start = 0.0
        self.last_change = 0.0
        self.previous_due = float("-inf")

    def changed(self, now: float, starts_batch: bool) -> None:
        """A change arrived at ``now``; ``starts_batch`` when nothing was pending."""
        if starts_batch:
            self.start = now
        self.last_change = now

    def due(self) -> float:
        """When the pending batch should be flushed."""
        burst_over = min(self.last_change + QUIET_S, self.start + self.tick_s)
        earliest = self.previous_due + self.tick_s * MIN_GAP_TICKS
        if burst_over < earliest:  # a tail: give the next tick's burst the chance to join it
            return self.previous_due + self.tick_s * (1.0 + GRACE_TICKS)
        return burst_over

    def flushed(self) -> None:
        """The pending batch was flushed."""
        self.previous_due = self.due()


__all__ = ["GRACE_TICKS", "MIN_GAP_TICKS", "QUIET_S", "BatchClock"]

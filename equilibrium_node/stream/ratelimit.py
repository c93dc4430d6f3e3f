"""Flood control for client messages: a token bucket per connection, and when a flood becomes persistent.

A map app sends a ``subscribe`` when the driver pans or zooms: a few per second while dragging, then
nothing. :data:`BURST` messages pass at once and :data:`RATE_PER_S` per second after that. A message
over the limit is dropped; the first one of a flood gets one ``rate_limited`` error, the rest nothing.
A flood ends when the client has been quiet long enough for the bucket to fill up again. A client that
keeps flooding (:data:`FLOOD_CLOSE_AFTER` dropped messages in one flood) is closed with
``CloseCode.FLOODING``. Pure logic over explicit times, so it is tested without a clock.
"""

from __future__ import annotations

import enum

BURST = 20
RATE_PER_S = 5.0
FLOOD_CLOSE_AFTER = 100


class TokenBucket:
    """``capacity`` tokens, refilled at ``rate_per_s``; :meth:`take` spends one if there is one."""

    __slots__ = ("capacity", "rate_per_s", "stamp", "tokens")

    def __init__(self, capacity: float, rate_per_s: float, now: float) -> None:
        self.capacity = capacity
        self.rate_per_s = rate_per_s
        self.tokens = float(capacity)
        self.stamp = now

    def refill(self, now: float) -> None:
        """Add the tokens earned since the last call."""
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate_per_s)
            self.stamp = now

    def take(self, now: float) -> bool:
        """Spend one token; False when there is none."""
        self.refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    @property
    def full(self) -> bool:
        """True when no token has been spent since the bucket last filled up."""
        return self.tokens >= self.capacity


class Verdict(enum.Enum):
    """What to do with one client message."""

    ACCEPT = "accept"
    WARN = "warn"  # drop it and send one rate_limited error
    DROP = "drop"  # drop it silently
    CLOSE = "close"  # persistent flood: close the connection


class FloodGuard:
    """Rate limit of one connection's messages, with flood episodes (see the module doc)."""

    __slots__ = ("bucket", "close_after", "dropped", "flooding")

    def __init__(self, now: float, burst: int = BURST, rate_per_s: float = RATE_PER_S,
                 close_after: int = FLOOD_CLOSE_AFTER) -> None:
        self.bucket = TokenBucket(burst, rate_per_s, now)
        self.close_after = close_after
        self.flooding = False
        self.dropped = 0

    def check(self, now: float) -> Verdict:
        """The verdict for a message arriving at ``now``."""
        self.bucket.refill(now)
        if self.flooding and self.bucket.full:
            self.flooding = False
        if self.bucket.take(now):
            return Verdict.ACCEPT
        if not self.flooding:
            self.flooding = True
            self.dropped = 1
            return Verdict.WARN
        self.dropped += 1
        return Verdict.CLOSE if self.dropped >= self.close_after else Verdict.DROP


__all__ = ["BURST", "FLOOD_CLOSE_AFTER", "RATE_PER_S", "FloodGuard", "TokenBucket", "Verdict"]

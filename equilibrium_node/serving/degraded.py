"""Degraded mode: when the served multipliers are stale, and what is served then.

The decision is a pure function of a few clocks (:func:`freshness`, :func:`served_multiplier`);
:class:`FreshnessMonitor` evaluates it every 250 ms from the node status and publishes the result
to ``status.degraded`` (read by ``/readyz``, ``/metrics`` ``eq_degraded`` and the streams) and to
the quote and heatmap paths, which read :attr:`FreshnessMonitor.state` without any await.

Evidence that prices are fresh is ``status.last_pricing_monotonic`` (the leader's own tick, or on a
follower the leader's lease renewal), and only while this node is connected to NATS (the surge
mirror only moves while connected). With no evidence yet, the node's start counts as the evidence.

- **fresh**: connected and the evidence is at most ``pricing.stale_after_s`` old: serve the mirror.
- **stale**: NATS disconnected, or the evidence is older than ``stale_after_s``: serve the last known
  multiplier, marked ``"degraded": true``.
- **fallback**: no fresh evidence for more than ``pricing.fallback_after_s`` (while disconnected,
  counted from the disconnect at the latest): serve 1.0, still marked degraded.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Literal, NamedTuple

from ..metrics import Metrics
from ..settings import PricingSettings, Rules
from ..status import NodeStatus

State = Literal["fresh", "stale", "fallback"]
CHECK_INTERVAL_S = 0.25


class Freshness(NamedTuple):
    """How fresh the served multipliers are: the state and the age of the latest evidence."""

    state: State
    age_s: float

    @property
    def degraded(self) -> bool:
        """True when stale or in fallback."""
        return self.state != "fresh"


FRESH = Freshness("fresh", 0.0)


def freshness(now_s: float, evidence_s: float, connected: bool, disconnected_since_s: float | None,
              stale_after_s: float, fallback_after_s: float) -> Freshness:
    """Classify the served multipliers (all times on one monotonic clock, seconds)."""
    last = evidence_s
    if not connected and disconnected_since_s is not None:
        last = min(last, disconnected_since_s)
    age = max(0.0, now_s - last)
    if age > fallback_after_s:
        return Freshness("fallback", age)
    if not connected or age > stale_after_s:
        return Freshness("stale", age)
    return Freshness("fresh", age)


def served_multiplier(known: float | None, fresh: Freshness, rules: Rules) -> float:
    """The multiplier to serve for a cell whose mirrored value is ``known`` (None: not priced, 1.0).

    Fallback serves 1.0; the live rules are enforced at serving time too (``emergency_mode = "freeze"``
    serves 1.0, ``max_multiplier`` caps), so a rule change takes effect within the config's 2 s even
    before the leader has re-priced every cell.
    """
    if known is None or fresh.state == "fallback" or rules.emergency_mode == "freeze":
        return 1.0
    return min(known, rules.max_multiplier)


class FreshnessMonitor:
    """Re-evaluates :func:`freshness` every 250 ms and publishes it (a node service)."""

    name = "freshness"

    def __init__(self, status: NodeStatus, metrics: Metrics, pricing: PricingSettings) -> None:
        self.status = status
        self.metrics = metrics
        self.pricing = pricing
        self.state: Freshness = FRESH
        self._disconnected_since: float | None = None
        self._stopped = asyncio.Event()

    def check(self, now_s: float | None = None) -> Freshness:
        """Evaluate now, remember and publish the result."""
        now = time.monotonic() if now_s is None else now_s
        connected = self.status.bus.connected
        if connected:
            self._disconnected_since = None
        elif self._disconnected_since is None:
            self._disconnected_since = now
        evidence = self.status.last_pricing_monotonic or self.status.started_monotonic
        self.state = freshness(now, evidence, connected, self._disconnected_since,
                               self.pricing.stale_after_s, self.pricing.fallback_after_s)
        self.status.degraded = self.state.degraded
        self.metrics.degraded.set(1 if self.state.degraded else 0)
        return self.state

    async def run(self) -> None:
        """Check until stopped."""
        while not self._stopped.is_set():
            self.check()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), CHECK_INTERVAL_S)

    async def stop(self) -> None:
        """Stop checking."""
        self._stopped.set()


__all__ = ["FRESH", "Freshness", "FreshnessMonitor", "State", "freshness", "served_multiplier"]

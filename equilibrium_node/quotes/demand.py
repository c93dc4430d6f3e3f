"""Demand signals from the REST API (a quote is ``quote``, an accept is ``request``), published off the request path.

A handler only appends the signal to a bounded in-memory queue (no await, no NATS call), so neither a
slow nor an absent NATS can fail or slow a quote. A background task publishes the queue to
``eq.<region>.location.rider`` with ``Nats-Msg-Id`` = ``event_id`` (the stream drops duplicates).
While NATS is disconnected the queue holds the newest ``max_pending`` signals and publishes them after
the reconnect; older ones are dropped and counted (``eq_quote_signals_total{outcome="dropped"}``).

Event ids: a quote's signal is ``q-<nonce>``, an accept's ``r-<nonce>`` (the quote's 12-byte nonce in
lower-case hex). The quote funnel (:mod:`equilibrium_node.analytics.funnel`) relies on these forms to
tell the API's quotes and accepts from the ``quote`` and ``request`` signals rider apps publish
themselves, so they are reserved: apps must not use them.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib

import msgspec
from nats.aio.client import Client

from ..logs import get_logger
from ..messages import MSG_ID_HEADER, DemandSignal
from ..metrics import Metrics

log = get_logger(__name__)

_encoder = msgspec.json.Encoder()
RETRY_S = 0.2

#: Event id prefixes of the REST API's own demand signals (reserved; see the module docstring).
QUOTE_EVENT_PREFIX = "q-"
ACCEPT_EVENT_PREFIX = "r-"


def quote_event_id(nonce: bytes) -> str:
    """Event id of the ``quote`` signal of the quote with this nonce."""
    return QUOTE_EVENT_PREFIX + nonce.hex()


def accept_event_id(nonce: bytes) -> str:
    """Event id of the ``request`` signal of the accept of the quote with this nonce."""
    return ACCEPT_EVENT_PREFIX + nonce.hex()


class DemandPublisher:
    """Bounded queue of demand signals and the task that publishes it (a node service)."""

    name = "demand"

    def __init__(self, nc: Client, subject: str, metrics: Metrics, max_pending: int = 10_000) -> None:
        self.nc = nc
        self.subject = subject
        self.max_pending = max_pending
        self._queue: collections.deque[DemandSignal] = collections.deque()
        self._wake = asyncio.Event()
        self._stopped = False
        self._published = metrics.quote_signals.labels(outcome="published")
        self._dropped = metrics.quote_signals.labels(outcome="dropped")

    @property
    def pending(self) -> int:
        """Signals waiting to be published."""
        return len(self._queue)

    def offer(self, signal: DemandSignal) -> None:
        """Queue a signal (never blocks; drops the oldest when full)."""
        if len(self._queue) >= self.max_pending:
            self._queue.popleft()
            self._dropped.inc()
        self._queue.append(signal)
        if not self._wake.is_set():
            self._wake.set()

    async def _publish_all(self) -> bool:
        """Publish what is queued; False when NATS is unavailable (the rest stays queued)."""
        queue = self._queue
        while queue:
            if not self.nc.is_connected:
                return False
            signal = queue[0]
            try:
                await self.nc.publish(self.subject, _encoder.encode(signal), headers={MSG_ID_HEADER: signal.event_id})
            except Exception as exc:  # nats-py raises several unrelated types while reconnecting or closing
                log.warning("demand_signal_publish_failed", error=f"{type(exc).__name__}: {exc}")
                return False
            queue.popleft()
            self._published.inc()
        return True

    async def run(self) -> None:
        """Publish until stopped; retries every 200 ms while NATS is away."""
        while not self._stopped:
            self._wake.clear()
            if not await self._publish_all():
                await asyncio.sleep(RETRY_S)
                continue
            await self._wake.wait()

    async def stop(self) -> None:
        """Publish what is left (bounded by the shutdown budget), then stop."""
        self._stopped = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._publish_all(), 1.0)
        self._wake.set()


__all__ = ["ACCEPT_EVENT_PREFIX", "QUOTE_EVENT_PREFIX", "DemandPublisher", "accept_event_id", "quote_event_id"]

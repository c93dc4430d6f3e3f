"""Every write the pricing leader makes goes through :class:`LeaderWriter`: one place to fence.

Surge KV entries, surge subjects, audit records and the pricing state (the 60-day rollup) are all
published here. The node sets :attr:`LeaderWriter.fence` to the leader lease's check (called before
every batch and again after every ``in_flight`` stored messages; it raises
:class:`~equilibrium_node.errors.NotLeaderError` once the lease is not held or NATS is disconnected)
and :attr:`LeaderWriter.headers` to the lease term (header ``Eq-Leader-Term``, the fencing token, on
every stored message; see ``cluster/lease.py`` and ``cluster/repair.py``).

Stored messages (KV entries are messages on ``$KV.<bucket>.<key>``; the audit stream) are published
with ``publish_async`` and at most ``in_flight`` acknowledgements outstanding, instead of one
``kv.put`` round trip after another (about 2k/s on one connection, see the streaming notes); plain
subjects are fire-and-forget. A batch returns what failed so the caller can retry it next tick.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import NamedTuple

from nats.aio.client import Client
from nats.js import JetStreamContext

from ..logs import get_logger

log = get_logger(__name__)


class Outgoing(NamedTuple):
    """One message to write."""

    subject: str
    payload: bytes
    stored: bool  # JetStream (acknowledged) or a plain subject
    headers: dict[str, str] | None = None
    tag: object = None  # the caller's handle, returned for failed messages


class WriteReport(NamedTuple):
    """How a batch went."""

    stored: int
    plain: int
    failed: list[Outgoing]


class LeaderWriter:
    """Pipelined, fenced writes of the pricing leader."""

    def __init__(self, nc: Client, js: JetStreamContext, *, in_flight: int = 1024, ack_timeout_s: float = 5.0) -> None:
        self.nc = nc
        self.js = js
        self.in_flight = max(1, in_flight)
        self.ack_timeout_s = ack_timeout_s
        #: raise to refuse the batch (the leader lease's check); None: always allowed
        self.fence: Callable[[], None] | None = None
        #: headers added to every stored message (the fencing token)
        self.headers: Callable[[], dict[str, str]] | None = None

    def check(self) -> None:
        """Raise when this node may not write (see :attr:`fence`)."""
        if self.fence is not None:
            self.fence()

    async def write(self, messages: Sequence[Outgoing]) -> WriteReport:
        """Publish ``messages`` in order, stored ones pipelined; returns the failures."""
        self.check()
        extra = self.headers() if self.headers is not None else None
        pending: list[tuple[asyncio.Future, Outgoing]] = []
        failed: list[Outgoing] = []
        stored = plain = 0
        for msg in messages:
            if not msg.stored:
                await self.nc.publish(msg.subject, msg.payload, headers=msg.headers)
                plain += 1
                continue
            headers = {**msg.headers, **extra} if msg.headers and extra else (msg.headers or extra)
            stored += 1
            try:
                future = await self.js.publish_async(msg.subject, msg.payload, headers=headers,
                                                     wait_stall=self.ack_timeout_s)
            except Exception as exc:  # connection trouble: the rest of the batch would fail alike
                log.warning("publish_failed", subject=msg.subject, error=f"{type(exc).__name__}: {exc}")
                failed.append(msg)
                continue
            pending.append((future, msg))
            if len(pending) >= self.in_flight:
                failed.extend(await self._settle(pending))
                pending = []
                self.check()  # a long batch stops where the lease ends
        failed.extend(await self._settle(pending))
        return WriteReport(stored - len(failed), plain, failed)

    async def _settle(self, pending: list[tuple[asyncio.Future, Outgoing]]) -> list[Outgoing]:
        if not pending:
            return []
        futures = [f for f, _ in pending]
        done, not_done = await asyncio.wait(futures, timeout=self.ack_timeout_s)
        failed = []
        for future, msg in pending:
            if future in not_done:
                future.cancel()
                failed.append(msg)
            elif future.exception() is not None:
                failed.append(msg)
        if failed:
            first = next((f.exception() for f, _ in pending if f in done and f.exception() is not None), None)
            log.warning("publish_unacknowledged", count=len(failed), error=str(first) if first else "ack timeout")
        return failed

    async def flush(self) -> None:
        """Flush plain publishes to the server."""
        with contextlib.suppress(Exception):
            await self.nc.flush(timeout=2)


__all__ = ["LeaderWriter", "Outgoing", "WriteReport"]

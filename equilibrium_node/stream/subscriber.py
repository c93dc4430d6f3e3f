"""One stream connection as the hub sees it: where its bytes go, and what it is owed while it is behind.

The hub never awaits a client. It writes a message's shared bytes to the connection's transport when
that transport has little waiting in user space (:data:`WRITE_LIMIT`); otherwise the client is
*behind*, and instead of queueing messages the hub keeps a conflated debt: the set of drawn cells that
changed (their latest values are rendered when it catches up), a snapshot if it asked for a new
viewport, the latest status, the latest direct reply. That debt is bounded by the viewport, never by
time. The client catches up once its buffer drained below :data:`RESUME_BELOW`; one whose buffer has
not drained at all for ``push.stall_timeout_s`` (stalled, not merely slow) is cut off (close 4008).

The transport-specific parts (framing, heartbeats, closing) sit behind the :class:`Sink` protocol,
implemented by the WebSocket and SSE modules.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Protocol

from .framing import Outgoing

if TYPE_CHECKING:
    from .group import ViewGroup

#: bytes waiting in the transport's user-space buffer above which a client counts as behind
WRITE_LIMIT = 64 * 1024
#: a behind client catches up once its buffer is below this
RESUME_BELOW = 16 * 1024


class Sink(Protocol):
    """The transport side of a stream connection."""

    #: "ws" or "sse" (the metric label)
    kind: str
    transport: asyncio.Transport

    def end(self, code: int, reason: str) -> None:
        """Close the connection (the close code for WS, a ``close`` event for SSE), without blocking."""
        ...


class Subscriber:
    """A connection, its viewport group and its conflated debt while behind."""

    __slots__ = ("behind_since", "behind_size", "ended", "group", "pending", "pending_reply", "pending_snapshot",
                 "pending_status", "reason", "sink", "transport", "ws")

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.transport = sink.transport
        self.ws = sink.kind == "ws"
        self.group: ViewGroup | None = None
        #: drawn cells owed while behind (None: not behind)
        self.pending: set[str] | None = None
        self.pending_snapshot = False
        self.pending_status = False
        self.pending_reply: Outgoing | None = None
        #: while behind: when its buffer last drained a little (or when it fell behind), and how full it was
        self.behind_since = 0.0
        self.behind_size = 0
        self.ended = False
        #: why the connection ended, when the hub ended it (metric label)
        self.reason = ""

    @property
    def kind(self) -> str:
        """``ws`` or ``sse``."""
        return self.sink.kind

    @property
    def behind(self) -> bool:
        """True while the client owes a catch-up."""
        return self.pending is not None

    def alive(self) -> bool:
        """True while the transport is open and the hub has not ended the connection."""
        return not self.ended and not self.transport.is_closing()

    def congested(self) -> bool:
        """True when too much already waits in the transport's buffer."""
        return self.transport.get_write_buffer_size() > WRITE_LIMIT

    def write(self, out: Outgoing) -> None:
        """Write one message's shared bytes (never blocks)."""
        self.transport.write(out.ws() if self.ws else out.sse())

    def fall_behind(self, now: float, cells: set[str] | None = None) -> None:
        """Start owing instead of writing."""
        if self.pending is None:
            self.pending = set(cells) if cells else set()
            self.behind_since = now
            self.behind_size = self.transport.get_write_buffer_size()
        elif cells:
            self.pending.update(cells)

    def stalled_for(self, now: float) -> float:
        """Seconds since a behind client last made progress (its buffer shrank): slow is fine, stuck is not."""
        size = self.transport.get_write_buffer_size()
        if size < self.behind_size:
            self.behind_size = size
            self.behind_since = now
        return now - self.behind_since

    def settle(self) -> None:
        """The debt was paid (or no longer matters)."""
        self.pending = None
        self.pending_snapshot = False
        self.pending_status = False
        self.pending_reply = None

    def __repr__(self) -> str:
        return f"Subscriber({self.kind}, behind={self.behind}, ended={self.ended})"


__all__ = ["RESUME_BELOW", "WRITE_LIMIT", "Sink", "Subscriber"]

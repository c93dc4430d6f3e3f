"""The stream hub: one per node, fanning the served surge prices out to every WebSocket and SSE client.

Data path. The surge view (a watch of KV ``eq_<region>_surge``, on every node, leader or not) calls
:meth:`StreamHub._on_change` for every changed key. The hub records the revision (for resume), drops
the cached encodings of the cells that contain it, and marks its drawn cell dirty in every viewport
group that shows it. Nothing is sent yet.

Ticks. A burst of changes (one pricing tick of the leader) becomes one batch, flushed when the burst is
over; in steady state a client gets one delta per ``pricing.tick_s``, never two within three quarters
of a tick (see :mod:`.batching`).

Flush. Each dirty group's changed cells are rendered (from the shared cell cache) and encoded into one
delta, framed once per transport, and the same bytes are written to every subscriber of the group that
can take them. Groups whose changed cells are the same (same vehicle type, level and cells) share even
that one delta. A subscriber that cannot take data (see :mod:`.subscriber`) owes a conflated catch-up
instead, and is cut off with 4008 when its buffer does not drain at all for ``push.stall_timeout_s``.

Housekeeping (every :data:`HOUSEKEEPING_S`): catch-ups and stall checks, the ``status`` message when
the node's degraded flag flips, SSE connections whose peer is gone, and every ``push.heartbeat_s`` the
SSE comment pings (WebSocket pings are aiohttp's heartbeat).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence

from ..errors import CloseCode
from ..logs import get_logger
from ..metrics import Metrics
from ..serving.change_log import ChangeLog
from ..serving.surge_view import SurgeEntry, SurgeView
from ..settings.model import PushSettings
from ..status import NodeStatus
from . import protocol
from .batching import BatchClock
from .framing import SSE_PING_CHUNK, Outgoing
from .group import ViewGroup
from .index import ViewIndex
from .protocol import Delta, Error, Snapshot, Status
from .render import CellRenderer
from .subscriber import RESUME_BELOW, WRITE_LIMIT, Sink, Subscriber
from .viewport import Viewport, ViewportRules

log = get_logger(__name__)

#: cadence of catch-ups, stall checks and status checks
HOUSEKEEPING_S = 0.25
#: let other tasks run after this many writes within one flush
YIELD_EVERY = 2000
#: how long closing every client at shutdown may take before the rest are aborted
SHUTDOWN_S = 2.5


class Reason:
    """Labels of ``eq_stream_disconnects_total{reason}``."""

    CLIENT = "client"  # the client closed or went away
    HEARTBEAT = "heartbeat"  # no pong / dead peer
    SLOW = "slow"  # stalled past push.stall_timeout_s (4008)
    FLOODING = "flooding"  # persistent flood of messages (4030)
    SHUTDOWN = "shutdown"  # the node stopped (1001)
    NOT_READY = "not_ready"  # refused at connect: prices not loaded yet (1013 / 503)
    UNAUTHORIZED = "unauthorized"  # refused at connect (4001 / 401)
    TOO_MANY = "too_many"  # refused at connect: connection limit (4029 / 503)
    ERROR = "error"  # a transport error


class StreamHub:
    """Viewport groups, subscribers and the fan-out loop of one node (a node service)."""

    name = "streams"

    def __init__(self, view: SurgeView, push: PushSettings, *, tick_s: float, cell_level: int,
                 vehicle_types: Callable[[], Sequence[str]], status: NodeStatus, metrics: Metrics) -> None:
        self.view = view
        self.push = push
        self.tick_s = tick_s
        self.status = status
        self.metrics = metrics
        self.changes = ChangeLog(push.history_ring)
        self.index = ViewIndex(cell_level)
        self.renderer = CellRenderer(view.entries, cell_level)
        self.rules = ViewportRules(cell_level, push.max_cells, vehicle_types)
        self.groups: dict[Viewport, ViewGroup] = {}
        self.subscribers: dict[Subscriber, None] = {}
        self._levels: dict[str, set[int]] = {}
        self._dirty: dict[ViewGroup, object] = {}  # an ordered set
        self._behind: set[Subscriber] = set()
        self._wake = asyncio.Event()
        self._empty = asyncio.Event()
        self._empty.set()
        self._stopping = False
        self._clock = BatchClock(tick_s)
        self._degraded = status.degraded
        self._next_beat = 0.0
        self._clients = {kind: metrics.stream_clients.labels(transport=kind) for kind in ("ws", "sse")}
        view.add_listener(self._on_change)

    # changes from the surge view --------------------------------------------------------------------
    def _on_change(self, key: str, entry: SurgeEntry | None) -> None:
        self.changes.record(key, entry.revision if entry is not None else self.view.entry_revision)
        cell, _, vehicle_type = key.partition(".")
        levels = self._levels.get(vehicle_type)
        if levels:
            self.renderer.invalidate(vehicle_type, cell, levels)
        groups = self.index.groups_of(key)
        if not groups:
            return
        dirty = self._dirty
        starts_batch = not dirty  # the first change after a flush starts the next batch
        for group, token in groups.items():  # (inlined: this runs for every group showing the key)
            group.dirty.add(token)
        dirty.update(groups)
        self._clock.changed(time.monotonic(), starts_batch)
        if starts_batch:
            self._wake.set()

    # connections --------------------------------------------------------------------------------------
    def refusal(self) -> str | None:
        """Why a new connection cannot be taken now (a :class:`Reason`), or None."""
        if self._stopping:
            return Reason.SHUTDOWN
        if not self.view.loaded.is_set():
            return Reason.NOT_READY
        if len(self.subscribers) >= self.push.max_connections:
            return Reason.TOO_MANY
        return None

    def attach(self, sink: Sink) -> Subscriber:
        """Register a connection; it gets the current status first."""
        sub = Subscriber(sink)
        self.subscribers[sub] = None
        self._empty.clear()
        self._clients[sink.kind].inc()
        self.reply(sub, Outgoing.of(Status(degraded=self._degraded)))
        return sub

    def detach(self, sub: Subscriber, reason: str) -> None:
        """Forget a connection (idempotent); counts the disconnect once (``reason`` unless the hub ended it)."""
        if sub not in self.subscribers:
            return
        del self.subscribers[sub]
        self._leave(sub)
        self._behind.discard(sub)
        sub.ended = True
        self._clients[sub.kind].dec()
        if not sub.reason:  # a server-side end was counted when it was decided
            self.metrics.stream_disconnects.labels(reason=reason).inc()
        if not self.subscribers:
            self._empty.set()

    def refused(self, reason: str) -> None:
        """Count a connection refused at connect."""
        self.metrics.stream_disconnects.labels(reason=reason).inc()

    def end(self, sub: Subscriber, code: int, reason: str, text: str) -> None:
        """Close a connection from the server side (slow, flooding, shutdown)."""
        if sub.ended:
            return
        sub.ended = True
        sub.reason = reason
        self.metrics.stream_disconnects.labels(reason=reason).inc()
        self._behind.discard(sub)
        self._leave(sub)  # nothing more goes out after the close
        sub.sink.end(code, text)

    # subscriptions ------------------------------------------------------------------------------------
    def subscribe(self, sub: Subscriber, viewport: Viewport, since: int | None = None) -> None:
        """Move ``sub`` to ``viewport``; it gets a snapshot, or with ``since`` only what changed after it."""
        if sub.ended:  # the server is closing it: nothing may follow the close
            return
        group = self.groups.get(viewport)
        if group is None:
            group = self.groups[viewport] = ViewGroup(viewport)
            self._levels.setdefault(viewport.vehicle_type, set()).add(viewport.level)
            self.index.add_group(group)
        if sub.group is not group:
            self._leave(sub)
            group.subscribers[sub] = None
            sub.group = group
        if sub.behind or sub.congested():
            sub.fall_behind(time.monotonic())
            sub.pending = set()  # a snapshot replaces whatever was owed for the old viewport
            sub.pending_snapshot = True
            self._behind.add(sub)
            return
        out = self._resume(group, since) if since is not None else None
        sub.write(out or self.snapshot(group))
        self.metrics.stream_messages.inc()

    def _leave(self, sub: Subscriber) -> None:
        group = sub.group
        if group is None:
            return
        sub.group = None
        group.subscribers.pop(sub, None)
        if not group.subscribers:
            del self.groups[group.viewport]
            self.index.remove_group(group)
            self._dirty.pop(group, None)

    def snapshot(self, group: ViewGroup) -> Outgoing:
        """The group's snapshot (cached until the group changes)."""
        if group.snapshot is None:
            cells, _, newest = self.renderer.render_many(group, sorted(group.members))
            vp = group.viewport
            group.snapshot = Outgoing.of(Snapshot(rev=self.view.revision, vehicle_type=vp.vehicle_type, level=vp.level,
                                                  bounds=vp.bounds, cells=cells, last_updated=newest))
        return group.snapshot

    def _resume(self, group: ViewGroup, since: int) -> Outgoing | None:
        """A delta of what changed in the group after ``since``; None when that cannot be known."""
        if since > self.view.revision:
            return None
        keys = self.changes.since(since)
        if keys is None:
            return None
        key_parent = group.key_parent
        tokens = {key_parent[k] for k in keys if k in key_parent}
        return self._delta(group, tokens)

    def _delta(self, group: ViewGroup, tokens: set[str]) -> Outgoing:
        cells, removed, newest = self.renderer.render_many(group, sorted(tokens))
        return Outgoing.of(Delta(rev=self.view.revision, cells=cells, removed=removed, last_updated=newest))

    def reply(self, sub: Subscriber, out: Outgoing) -> None:
        """A message for one client (status, error, pong); owed (latest only) while it is behind."""
        if sub.ended:
            return
        if sub.behind or sub.congested():
            if out.event == "status":
                sub.pending_status = True
            else:
                sub.pending_reply = out
            sub.fall_behind(time.monotonic())
            self._behind.add(sub)
            return
        sub.write(out)
        self.metrics.stream_messages.inc()

    def error(self, sub: Subscriber, code: str, message: str, field: str | None = None) -> None:
        """Send an error message."""
        self.reply(sub, Outgoing.of(Error(code=code, message=message, field=field)))

    # the loop -----------------------------------------------------------------------------------------
    async def run(self) -> None:
        """Flush batches and keep house until stopped."""
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(HOUSEKEEPING_S):
                    await self._wake.wait()
            self._wake.clear()
            if self._dirty and not self._stopping:
                await self._hold()
                await self._flush()
            self._housekeeping(time.monotonic())

    async def _hold(self) -> None:
        """Wait until the pending batch is due (:class:`BatchClock`)."""
        while not self._stopping:
            wait_s = self._clock.due() - time.monotonic()
            if wait_s <= 0:
                return
            await asyncio.sleep(wait_s)

    async def _flush(self) -> None:
        """Send every dirty group its delta (shared bytes), or note the debt of those behind."""
        now = time.monotonic()
        self._clock.flushed()
        dirty, self._dirty = self._dirty, {}
        rev = self.view.revision
        sent = written = 0
        behind = self._behind
        limit = WRITE_LIMIT
        render = self.renderer.render_many
        encode = protocol.encoder.encode
        # groups whose changed cells are the same whole cells (same vehicle type and level) get the very
        # same delta: encode it once for all of them (many small viewports share one or two changed cells)
        same: dict[tuple[str, int, frozenset[str]], Outgoing] = {}
        for group in dirty:
            tokens = group.dirty
            subscribers = group.subscribers
            if not tokens or not subscribers:
                continue
            group.dirty = set()
            group.snapshot = None
            key = None
            if group.partial.isdisjoint(tokens):
                key = (group.viewport.vehicle_type, group.viewport.level, frozenset(tokens))
                out = same.get(key)
            else:
                out = None
            if out is None:
                cells, removed, newest = render(group, tokens)
                out = Outgoing("delta", encode(Delta(rev=rev, cells=cells, removed=removed, last_updated=newest)),
                               rev)
                if key is not None:
                    same[key] = out
            for sub in subscribers:
                pending = sub.pending
                if pending is not None:
                    pending.update(tokens)
                    continue
                transport = sub.transport
                if transport.is_closing():
                    continue
                if transport.get_write_buffer_size() > limit:
                    sub.fall_behind(now, tokens)
                    behind.add(sub)
                    continue
                transport.write(out.ws() if sub.ws else out.sse())
                sent += 1
            written += len(subscribers)
            if written >= YIELD_EVERY:
                written = 0
                await asyncio.sleep(0)
        self.metrics.stream_messages.inc(sent)

    def _housekeeping(self, now: float) -> None:
        degraded = self.status.degraded
        if degraded != self._degraded:
            self._degraded = degraded
            status = Outgoing.of(Status(degraded=degraded))
            for sub in list(self.subscribers):
                self.reply(sub, status)
        for sub in list(self._behind):
            if not sub.alive():
                self._behind.discard(sub)
            elif sub.transport.get_write_buffer_size() <= RESUME_BELOW:
                self._catch_up(sub)
            elif (stalled_s := sub.stalled_for(now)) > self.push.stall_timeout_s:
                log.info("stream_client_stalled", transport=sub.kind, stalled_s=round(stalled_s, 1))
                self.end(sub, CloseCode.SLOW_CLIENT, Reason.SLOW, "slow client: stalled")
        ping = now >= self._next_beat
        if ping:
            self._next_beat = now + self.push.heartbeat_s
        self._sse_upkeep(ping)

    def _catch_up(self, sub: Subscriber) -> None:
        """Pay a behind client's debt with the latest values."""
        self._behind.discard(sub)
        group = sub.group
        messages = []
        if group is not None and sub.pending_snapshot:
            messages.append(self.snapshot(group))
        elif group is not None and sub.pending:
            messages.append(self._delta(group, sub.pending))
        if sub.pending_status:
            messages.append(Outgoing.of(Status(degraded=self._degraded)))
        if sub.pending_reply is not None:
            messages.append(sub.pending_reply)
        sub.settle()
        for out in messages:
            sub.write(out)
        self.metrics.stream_messages.inc(len(messages))

    def _sse_upkeep(self, ping: bool) -> None:
        """End SSE connections whose peer is gone (nothing reads them); on heartbeats, comment pings."""
        for sub in list(self.subscribers):
            if sub.ws or sub.ended:
                continue
            if sub.transport.is_closing():
                self.end(sub, CloseCode.NORMAL, Reason.CLIENT, "connection lost")
            elif ping and not sub.behind:
                sub.transport.write(SSE_PING_CHUNK)

    # shutdown -----------------------------------------------------------------------------------------
    async def stop(self) -> None:
        """Close every client (WS 1001 going away, SSE ``close`` event), then abort what is left."""
        if self._stopping:
            return
        self._stopping = True
        self._wake.set()
        count = len(self.subscribers)
        for sub in list(self.subscribers):
            self.end(sub, CloseCode.GOING_AWAY, Reason.SHUTDOWN, "server shutting down")
        try:
            async with asyncio.timeout(SHUTDOWN_S):
                await self._empty.wait()
        except TimeoutError:
            for sub in list(self.subscribers):
                sub.transport.abort()
        log.info("streams_closed", clients=count)


__all__ = ["HOUSEKEEPING_S", "Reason", "StreamHub"]

"""The snapshot publisher (leader only): every ``snapshot.interval_s`` one record per active zone and vehicle type.

Records (:class:`~equilibrium_node.messages.ZoneSnapshot`, built by :mod:`.zone_snapshot`) go to
``eq.<region>.snapshot.zone`` (stream ``EQ_SNAP_<REGION>``) through the
:class:`~equilibrium_node.publish.writer.LeaderWriter`, so the leader lease fences them like every
other leader write. Snapshots are taken at multiples of the interval on the wall clock (``ts`` =
12:01:00, 12:02:00, ...); ``Nats-Msg-Id`` is ``<zone>.<vehicle_type>.<ts in ms>``, so a retried
write is stored once. Records whose write was not acknowledged are written again (same id) every
2 s, inside the stream's duplicate window, and before the next snapshot's.

The quote funnel (:class:`.funnel.FunnelFeed`) runs inside this service: on start it reads the
watermark of the newest record in the stream and counts the rider signals after it; each snapshot
takes the counts and carries the new watermark. Losing the lease (a fenced write) drops the
uncounted part and stops the feed: whoever leads next continues from the stored watermark.
While the market is still replaying its stream (``gate``), snapshots are skipped (half-replayed
windows would be wrong) and the funnel's counts roll into the next snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable

import msgspec
from nats.js import JetStreamContext
from nats.js.errors import APIError, NotFoundError

from ..bus.names import RegionNames
from ..errors import NotLeaderError
from ..live_config import ConfigSnapshot
from ..logs import get_logger
from ..market.view import MarketView
from ..messages import MSG_ID_HEADER, ZoneSnapshot, encoder, zone_snapshot_decoder
from ..metrics import Metrics
from ..publish.writer import LeaderWriter, Outgoing
from .funnel import FunnelFeed
from .zone_snapshot import market_by_zone, multipliers_by_zone, zone_records

log = get_logger(__name__)

#: Unacknowledged records kept for another try (beyond this the oldest are given up and logged).
MAX_RETRY = 20_000
#: Seconds between tries of unacknowledged records.
RETRY_S = 2.0


class SnapshotPublisher:
    """Publishes zone snapshots and counts the quote funnel (a leader service)."""

    name = "snapshots"

    def __init__(self, js: JetStreamContext, names: RegionNames, market: MarketView, surge_view,
                 config: Callable[[], ConfigSnapshot], writer: LeaderWriter, *, interval_s: float,
                 cell_level: int, metrics: Metrics, gate: Callable[[], bool] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.js = js
        self.names = names
        self.market = market
        self.surge_view = surge_view
        self.config = config
        self.writer = writer
        self.interval_s = interval_s
        self.cell_level = cell_level
        self.metrics = metrics
        self.gate = gate
        self.clock = clock
        self.feed: FunnelFeed | None = None
        self.last_records: list[ZoneSnapshot] = []
        self._retry: list[Outgoing] = []
        self._stop = asyncio.Event()

    async def read_watermark(self) -> int | None:
        """The funnel watermark of the newest stored snapshot record; None when there is none."""
        try:
            raw = await self.js.get_last_msg(self.names.snapshot_stream, self.names.snapshot_subject)
        except NotFoundError:
            return None
        except APIError as exc:
            if exc.code == 404:
                return None
            raise
        try:
            return zone_snapshot_decoder.decode(raw.data or b"").seq
        except (msgspec.ValidationError, msgspec.DecodeError):
            log.warning("snapshot_watermark_unreadable", seq=raw.seq)
            return None

    async def _ensure_feed(self) -> FunnelFeed:
        if self.feed is not None:
            return self.feed
        watermark = await self.read_watermark()
        feed = FunnelFeed(self.js, self.names, self.cell_level,
                          zone_of_cell=lambda cell: self.config().zone_index.zone_of_cell(cell),
                          vehicle_types=lambda: self.config().vehicle_types, metrics=self.metrics)
        if watermark is None:  # a new region (or a wiped stream): count from now on
            try:
                info = await self.js.stream_info(self.names.location_stream)
                watermark = info.state.last_seq
            except NotFoundError:
                watermark = 0
        await feed.start(watermark)
        self.feed = feed
        return feed

    async def _drop_feed(self) -> None:
        feed, self.feed = self.feed, None
        self._retry = []
        if feed is not None:
            await feed.stop()

    async def run(self) -> None:
        """Snapshot at every multiple of the interval until stopped."""
        with contextlib.suppress(Exception):  # NATS away at start: the first snapshot tries again
            await self._ensure_feed()
        while not self._stop.is_set():
            due = (math.floor(self.clock() / self.interval_s) + 1) * self.interval_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), max(0.0, due - self.clock()))
            if self._stop.is_set():
                break
            if self.gate is not None and not self.gate():
                continue
            try:
                await self.snapshot_once(due)
                await self._retry_until(due + self.interval_s)
            except NotLeaderError as exc:
                log.warning("snapshot_not_leader", error=exc.message)
                await self._drop_feed()
            except Exception:
                log.exception("snapshot_failed", ts=due)

    async def _retry_until(self, deadline: float) -> None:
        """Write unacknowledged records again every ``RETRY_S`` (well inside the stream's duplicate window,
        so a record that was stored after all is not stored twice), until the next snapshot is due."""
        while self._retry and not self._stop.is_set() and self.clock() + RETRY_S < deadline:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), RETRY_S)
            report = await self.writer.write(self._retry)
            self.metrics.snapshot_records.inc(report.stored)
            self._retry = report.failed

    async def snapshot_once(self, ts: float) -> list[ZoneSnapshot]:
        """Take one snapshot at ``ts`` and write it (with earlier unacknowledged records first)."""
        feed = await self._ensure_feed()
        self.writer.check()  # not the leader: raise before taking the counts
        counts, seq = feed.counts.take()
        try:
            config = self.config()
            by_zone = market_by_zone(self.market, config.vehicle_types, config.zone_index.zone_of_cell)
            multipliers = multipliers_by_zone(e.update for e in list(self.surge_view.entries.values()))
            records = zone_records(ts, self.interval_s, seq, by_zone, multipliers, counts)
        except Exception:
            feed.counts.restore(counts)
            raise
        subject = self.names.snapshot_subject
        stamp = round(ts * 1000)
        messages = [Outgoing(subject, encoder.encode(r), True,
                             {MSG_ID_HEADER: f"{r.zone_id}.{r.vehicle_type}.{stamp}"}, r) for r in records]
        report = await self.writer.write([*self._retry, *messages])
        failed = report.failed
        if len(failed) > MAX_RETRY:
            log.error("snapshot_records_given_up", count=len(failed) - MAX_RETRY)
            failed = failed[-MAX_RETRY:]
        self._retry = failed
        self.metrics.snapshot_records.inc(report.stored)
        if failed:
            self.metrics.publish_failures.inc(len(failed))
        self.last_records = records
        return records

    async def stop(self) -> None:
        """Stop snapshotting; uncounted signals stay after the stored watermark for the next leader."""
        self._stop.set()
        await self._drop_feed()


__all__ = ["SnapshotPublisher"]

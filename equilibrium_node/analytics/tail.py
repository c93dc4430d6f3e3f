"""Keeping the rollup current on every node (leader or follower): two ordered consumers, one per stream.

Once the node is ready (``gate``), each node replays the snapshot stream ``EQ_SNAP_<REGION>`` and the audit stream
``EQ_AUDIT_<REGION>`` from their first message into its :class:`~.rollup.ZoneRollup`, then keeps
tailing them. Ordered push consumers with a callback (no task or queue per message; the fastest
path in nats-py, see the streaming notes): a gap or a reconnect makes nats-py recreate the
consumer after the last sequence delivered, so every record is folded in once. :attr:`loaded` is
set once both have caught up with the stream heads; until then the analytics API answers 503.
A record that does not decode is skipped and counted (``eq_analytics_dropped_total{reason="invalid"}``), so
are records older than the rollup's span (``old``) or more than an hour in the future (``future``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

import msgspec
from nats.js import JetStreamContext, api

from ..bus.names import RegionNames
from ..logs import get_logger
from ..messages import audit_record_decoder, zone_snapshot_decoder
from ..metrics import Metrics
from .rollup import ZoneRollup

log = get_logger(__name__)

PROGRESS_LOG_S = 10.0


class RollupTail:
    """Folds the snapshot and audit streams into a rollup (a node service)."""

    name = "analytics"

    def __init__(self, js: JetStreamContext, names: RegionNames, rollup: ZoneRollup, metrics: Metrics, *,
                 gate: Callable[[], bool] | None = None, gate_timeout_s: float = 60.0) -> None:
        self.js = js
        #: the replay starts once this says yes (the node is ready: the market has caught up), so that the
        #: replay of a long history never competes with the start-up that pricing needs; at the latest
        #: after ``gate_timeout_s``
        self.gate = gate
        self.gate_timeout_s = gate_timeout_s
        self.names = names
        self.rollup = rollup
        self.metrics = metrics
        self.loaded = asyncio.Event()
        self.received = {"snapshot": 0, "audit": 0}
        self.expected = {"snapshot": 0, "audit": 0}
        self._caught_up = {"snapshot": False, "audit": False}
        self._subs: dict[str, Any] = {}
        self._stopped = asyncio.Event()
        self._invalid = metrics.analytics_dropped.labels(reason="invalid")
        if rollup.on_drop is None:
            rollup.on_drop = lambda reason, n: metrics.analytics_dropped.labels(reason=reason).inc(n)
        self._counted = {s: metrics.analytics_records.labels(stream=s) for s in ("snapshot", "audit")}

    def progress(self) -> str:
        """``snapshot 1200/5000, audit 0/0`` (records read / in the stream at start)."""
        return ", ".join(f"{s} {self.received[s]}/{self.expected[s]}" for s in ("snapshot", "audit"))

    def _mark_caught_up(self, stream: str) -> None:
        if self._caught_up[stream]:
            return
        self._caught_up[stream] = True
        if all(self._caught_up.values()):
            self.rollup.flush()
            self.loaded.set()
            self.metrics.analytics_loaded.set(1)
            log.info("analytics_loaded", snapshot=self.received["snapshot"], audit=self.received["audit"],
                     zones=len(self.rollup.key_list))

    def _callback(self, stream: str, decode, fold):
        counted = self._counted[stream]
        rollup = self.rollup

        async def on_msg(msg) -> None:
            self.received[stream] += 1
            try:
                fold(decode(msg.data))
                counted.inc()
            except (msgspec.ValidationError, msgspec.DecodeError):
                self._invalid.inc()
            if msg.metadata.num_pending == 0:
                rollup.flush()  # caught up (or a live record): make it visible now
                self._mark_caught_up(stream)

        return on_msg

    async def _follow(self, stream: str, stream_name: str, subject: str, decode, fold) -> None:
        info = await self.js.stream_info(stream_name)
        self.expected[stream] = info.state.messages
        if not info.state.messages:
            self._mark_caught_up(stream)  # nothing to replay; what comes later is folded in as it arrives
        sub = await self.js.subscribe(subject, stream=stream_name, cb=self._callback(stream, decode, fold),
                                      ordered_consumer=True, deliver_policy=api.DeliverPolicy.ALL,
                                      inactive_threshold=300.0, pending_msgs_limit=-1, pending_bytes_limit=-1)
        self._subs[stream] = sub  # from here on records may be folded in: never subscribe to it again
        with contextlib.suppress(Exception):  # the stream emptied (max age) between the info and the consumer
            consumer = await sub.consumer_info()
            if consumer.num_pending == 0 and sub.delivered == 0:
                self._mark_caught_up(stream)

    async def start(self) -> None:
        """Subscribe to both streams from their first message (a stream already followed is left alone)."""
        if "snapshot" not in self._subs:
            await self._follow("snapshot", self.names.snapshot_stream, self.names.snapshot_subject,
                               zone_snapshot_decoder.decode, self.rollup.add_snapshot)
        if "audit" not in self._subs:
            await self._follow("audit", self.names.audit_stream, self.names.audit_subject,
                               audit_record_decoder.decode, self.rollup.add_audit)

    async def run(self) -> None:
        """Follow the streams (once the gate opens) until stopped."""
        deadline = time.monotonic() + self.gate_timeout_s
        while self.gate is not None and not self.gate() and time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), 0.2)
            if self._stopped.is_set():
                return
        while not self._stopped.is_set():
            try:
                await self.start()
                break
            except Exception as exc:  # NATS trouble at start: analytics wait, the node does not go down
                log.warning("analytics_start_failed", error=f"{type(exc).__name__}: {exc}")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopped.wait(), 2.0)
        started = time.monotonic()
        while not self.loaded.is_set() and not self._stopped.is_set():  # a long replay shows its progress
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), PROGRESS_LOG_S)
            if not self.loaded.is_set() and not self._stopped.is_set():
                log.info("analytics_loading", progress=self.progress(), elapsed_s=round(time.monotonic() - started))
        await self._stopped.wait()

    async def _unsubscribe(self) -> None:
        subs, self._subs = list(self._subs.values()), {}
        for sub in subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def stop(self) -> None:
        """Unsubscribe."""
        self._stopped.set()
        await self._unsubscribe()


__all__ = ["RollupTail"]

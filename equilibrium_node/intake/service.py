"""The intake service: location stream -> batches -> decode + validate -> S2 cells -> market state.

Per batch (up to ``market.batch_max`` messages, taken from the :class:`~.pull.PullConsumer` buffer):

1. decode and validate every message (:func:`.decode.decode_batch`), rejects listed with a reason;
2. copy the rejects to the DLQ and wait for the stream's acks (:class:`.dlq.DeadLetters`);
3. compute the S2 cells of every accepted event in one vectorised call (:mod:`..geo.s2vec`);
4. apply pings, then signals, then commit the batch's last sequence and newest stream time to the
   state, all without an ``await``, so nobody sees half a batch;
5. metrics: ingested per kind, rejected per reason, dropped per reason, applied sequence, pending,
   batch time.

Start from any sequence (``start_seq``): the leader resumes after its checkpoint, a follower could
tail from wherever it likes, read-only (``publish_rejects=False``: rejects are counted, not copied to
the DLQ, which is the leader's job). The leader's intake is fenced by the lease: once it is not held, a
batch with rejects is not applied and consumption ends (the role controller is about to stop it).
``loaded`` is set (and ``status.state_loaded``) once the state has caught up to the stream head
observed at start: the node then reports ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from ..bus.names import RegionNames
from ..errors import NotLeaderError, Reject
from ..faults import FAULTS, Faults
from ..geo import s2vec
from ..logs import get_logger
from ..market.state import MarketState
from ..metrics import Metrics
from ..settings import MarketSettings
from ..status import NodeStatus
from .decode import DecodedBatch, decode_batch
from .dlq import DeadLetterAborted, DeadLetters
from .pull import PullConsumer

log = get_logger(__name__)

class Intake:
    """Consumes ``EQ_LOC_<REGION>`` into a :class:`MarketState` (a node service)."""

    name = "intake"

    def __init__(self, nc: Client, js: JetStreamContext, names: RegionNames, state: MarketState,
                 settings: MarketSettings, cell_level: int, metrics: Metrics, *,
                 vehicle_types: Callable[[], Iterable[str]], status: NodeStatus | None = None,
                 publish_rejects: bool = True, fence: Callable[[], None] | None = None, linger_s: float = 0.005,
                 faults: Faults = FAULTS) -> None:
        self.nc, self.js, self.names = nc, js, names
        self.state = state
        self.settings = settings
        self.cell_level = cell_level
        self.metrics = metrics
        self.vehicle_types = vehicle_types
        self.status = status
        self.publish_rejects = publish_rejects
        #: the leader lease's check: a deposed leader copies no reject to the DLQ (it stops consuming instead)
        self.fence = fence
        self.linger_s = linger_s
        self.faults = faults
        self.head_at_start = 0
        self.loaded = asyncio.Event()
        self.consumer: PullConsumer | None = None
        self.batches = 0
        self._vt_cache: tuple[tuple[str, ...], frozenset[str]] = ((), frozenset())
        self._stopping = False
        self._done = asyncio.Event()
        self.dlq = DeadLetters(js, names.dlq_subject, names.location_stream, stopping=lambda: self._stopping)
        m = metrics
        self._ingested = {k: m.events_ingested.labels(kind=k) for k in ("driver", "rider")}
        self._dropped = {r: m.events_dropped.labels(reason=r) for r in (Reject.TOO_OLD, Reject.OUT_OF_ORDER)}

    # lifecycle ------------------------------------------------------------------------------------
    async def stream_bounds(self) -> tuple[int, int]:
        """(first, last) sequence of the location stream now ((0, 0) when it is empty or missing)."""
        try:
            info = await self.js.stream_info(self.names.location_stream)
        except NotFoundError:
            return 0, 0
        return info.state.first_seq, info.state.last_seq

    async def prepare(self, start_seq: int) -> None:
        """Create the consumer from ``start_seq`` (>= 1) and note the stream head to catch up to."""
        stream = self.names.location_stream
        first, head = await self.stream_bounds()
        if first > 0 and start_seq < first and head >= first:
            log.warning("intake_gap_retention", start_seq=start_seq, first_available=first)
        self.head_at_start = head
        batch = min(self.settings.batch_max, 10_000)
        self.consumer = PullConsumer(self.nc, self.js, stream, self.names.location_subjects, start_seq=start_seq,
                                     batch=max(batch, 256), max_buffer=max(4 * batch, 20_000))
        await self.consumer.start(pending_hint=max(0, head - start_seq + 1))
        self._check_loaded()
        log.info("intake_started", start_seq=start_seq, stream_head=head)

    async def run(self) -> None:
        """Apply batches until stopped; then apply what was already received and return."""
        if self.consumer is None:
            await self.prepare(self.state.applied_seq + 1)
        assert self.consumer is not None
        try:
            while True:
                msgs, seqs, ts_ns = await self.consumer.take(self.settings.batch_max, self.linger_s)
                if not msgs:
                    if self._stopping:
                        break
                    continue
                try:
                    await self.apply(msgs, seqs, ts_ns)
                except DeadLetterAborted as exc:
                    log.warning("intake_batch_abandoned", reason=str(exc), first_seq=seqs[0])
                    break
        finally:
            self._done.set()

    async def stop(self) -> None:
        """Stop consuming; return once the batches already received are applied."""
        self._stopping = True
        if self.consumer is not None:
            await self.consumer.stop()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._done.wait(), 5.0)

    # one batch ------------------------------------------------------------------------------------
    def _vehicle_types(self) -> frozenset[str]:
        current = tuple(self.vehicle_types())
        if current != self._vt_cache[0]:
            self._vt_cache = (current, frozenset(current))
        return self._vt_cache[1]

    async def apply(self, msgs: list[Msg], seqs: list[int], ts_ns: list[int]) -> None:
        """Decode, validate, DLQ, locate and apply one batch (messages in stream order)."""
        started = time.perf_counter()
        batch = decode_batch([m.subject for m in msgs], [m.data for m in msgs], ts_ns,
                             driver_subject=self.names.driver_subject, rider_subject=self.names.rider_subject,
                             vehicle_types=self._vehicle_types(), max_event_age_s=self.settings.max_event_age_s)
        if batch.rejects and self.publish_rejects:
            self._check_fence()
            lost = await self.dlq.publish([(msgs[i], seqs[i], reason) for i, reason in batch.rejects])
            if lost:
                self.metrics.dlq_lost.inc(lost)
            self.faults.hit("dlq")
        d, r = batch.drivers, batch.riders
        tokens = s2vec.lat_lng_tokens(d.lats + r.lats, d.lngs + r.lngs, self.cell_level) if len(d) + len(r) else []
        state = self.state
        out_of_order = state.apply_pings(d.ids, tokens[:len(d)], d.vehicle_types, d.codes, d.lats, d.lngs,
                                         d.stream_ts, d.device_ts)
        self.faults.hit("batch")
        state.apply_signals(r.ids, tokens[len(d):], r.vehicle_types, r.codes, r.stream_ts)
        state.commit_batch(seqs[-1], max(ts_ns) * 1e-9, messages=len(seqs), seq_sum=sum(seqs))
        self.batches += 1
        self._account(batch, out_of_order)
        self.metrics.ingest_batch_seconds.observe(time.perf_counter() - started)

    def _check_fence(self) -> None:
        if self.fence is None:
            return
        try:
            self.fence()
        except NotLeaderError as exc:  # the batch is not applied: the next leader reads it again
            raise DeadLetterAborted(f"not the leader: {exc.message}") from None

    def _account(self, batch: DecodedBatch, out_of_order: int) -> None:
        m = self.metrics
        self._ingested["driver"].inc(len(batch.drivers) - out_of_order)
        self._ingested["rider"].inc(len(batch.riders))
        for _i, reason in batch.rejects:
            m.events_rejected.labels(reason=reason).inc()
        too_old = batch.too_old["driver"] + batch.too_old["rider"]
        if too_old:
            self._dropped[Reject.TOO_OLD].inc(too_old)
        if out_of_order:
            self._dropped[Reject.OUT_OF_ORDER].inc(out_of_order)
        consumer = self.consumer
        m.stream_applied_seq.set(self.state.applied_seq)
        if consumer is not None:
            m.stream_pending.set(consumer.pending + consumer.buffered)
            self.state.caught_up = consumer.caught_up
        self._check_loaded()

    def _check_loaded(self) -> None:
        if self.loaded.is_set():
            return
        consumer = self.consumer
        if self.state.applied_seq >= self.head_at_start or (consumer is not None and consumer.caught_up):
            self.state.caught_up = consumer.caught_up if consumer is not None else True
            self.loaded.set()
            if self.status is not None:
                self.status.state_loaded = True
            log.info("market_state_loaded", applied_seq=self.state.applied_seq, stream_head=self.head_at_start)

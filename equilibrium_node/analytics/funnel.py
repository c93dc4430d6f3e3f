"""The quote funnel: quotes issued and accepted by the REST API, counted per zone and vehicle type.

Where the counts come from: the demand signals the REST API already publishes to
``eq.<region>.location.rider`` (stream ``EQ_LOC_<REGION>``). A quote is a ``quote`` signal whose
event id is ``q-<nonce>``, an accept a ``request`` signal whose event id is ``r-<nonce>`` (the
quote's 12-byte nonce in hex, :mod:`equilibrium_node.quotes.demand`). Rider apps publish ``quote``
and ``request`` signals of their own with their own event ids: those are demand, not funnel steps,
and are not counted, which is how the funnel tells an accepted quote from a raw app request.

Who counts: the leader, in :class:`FunnelFeed`, an ordered push consumer of the rider subject that
starts right after the funnel *watermark*: the last location-stream sequence whose signals are
already in a published snapshot (each snapshot record carries it as ``seq``). The market intake
is not used: its position is its checkpoint's, which is not where the snapshots left off, so a
restart would count some signals twice or never. With its own position the funnel is exactly
once across restarts and leader changes: the next leader reads the watermark back from the last
snapshot record and continues after it.

A signal is attributed to the zone of its cell (quote: the pickup point; accept: the centre of the
pickup cell, so both land in the same cell and zone) and to its vehicle type.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable

import msgspec
from nats.js import JetStreamContext, api

from ..bus.names import RegionNames
from ..geo.point_cell import point_token
from ..logs import get_logger
from ..messages import demand_signal_decoder
from ..metrics import Metrics
from ..quotes.demand import ACCEPT_EVENT_PREFIX, QUOTE_EVENT_PREFIX
from ..quotes.quoter import NONCE_BYTES

log = get_logger(__name__)

QUOTE, ACCEPT = 0, 1
_NONCE = f"[0-9a-f]{{{2 * NONCE_BYTES}}}"
_QUOTE_ID = re.compile(re.escape(QUOTE_EVENT_PREFIX) + _NONCE)
_ACCEPT_ID = re.compile(re.escape(ACCEPT_EVENT_PREFIX) + _NONCE)

Key = tuple[str, str]  # (zone_id, vehicle_type)


def classify(kind: str, event_id: str) -> int | None:
    """:data:`QUOTE` for a quote the API issued, :data:`ACCEPT` for an accept, None for anything else."""
    if kind == "quote" and _QUOTE_ID.fullmatch(event_id):
        return QUOTE
    if kind == "request" and _ACCEPT_ID.fullmatch(event_id):
        return ACCEPT
    return None


class FunnelCounts:
    """Quotes and accepts per (zone, vehicle type) since the last :meth:`take`, and the watermark."""

    def __init__(self, seq: int = 0) -> None:
        self.counts: dict[Key, list[int]] = {}
        #: last location-stream sequence looked at (counted or not)
        self.seq = seq

    def add(self, zone_id: str, vehicle_type: str, step: int, n: int = 1) -> None:
        """Count ``n`` quotes (step :data:`QUOTE`) or accepts (:data:`ACCEPT`)."""
        pair = self.counts.get((zone_id, vehicle_type))
        if pair is None:
            pair = self.counts[(zone_id, vehicle_type)] = [0, 0]
        pair[step] += n

    def take(self) -> tuple[dict[Key, tuple[int, int]], int]:
        """The counts so far as ``{key: (quotes, accepts)}`` and the watermark they reach; resets the counts."""
        out = {key: (q, a) for key, (q, a) in self.counts.items()}
        self.counts = {}
        return out, self.seq

    def restore(self, counts: dict[Key, tuple[int, int]]) -> None:
        """Put taken counts back (their snapshot could not be written)."""
        for (zone_id, vt), (q, a) in counts.items():
            self.add(zone_id, vt, QUOTE, q)
            self.add(zone_id, vt, ACCEPT, a)


class FunnelFeed:
    """Counts the API's quotes and accepts from the location stream, from a given sequence on (leader)."""

    def __init__(self, js: JetStreamContext, names: RegionNames, cell_level: int, *,
                 zone_of_cell: Callable[[str], str], vehicle_types: Callable[[], Iterable[str]],
                 metrics: Metrics | None = None) -> None:
        self.js = js
        self.names = names
        self.cell_level = cell_level
        self.zone_of_cell = zone_of_cell
        self.vehicle_types = vehicle_types
        self.counts = FunnelCounts()
        self._sub = None
        self._counted = ({QUOTE: metrics.funnel_signals.labels(step="quote"),
                          ACCEPT: metrics.funnel_signals.labels(step="accept")} if metrics is not None else None)

    async def start(self, after_seq: int) -> int:
        """Consume rider signals after ``after_seq`` (clamped to the stream); returns the first sequence asked for."""
        try:
            info = await self.js.stream_info(self.names.location_stream)
            first, last = info.state.first_seq, info.state.last_seq
        except Exception:  # no stream yet: the provisioning of the node creates it; start at the beginning
            first, last = 1, 0
        start = after_seq + 1
        if start > last + 1:  # the stream was recreated under us: its sequences start again
            log.warning("funnel_watermark_ahead_of_stream", watermark=after_seq, stream_last=last)
            start = last + 1
        if first > 1 and start < first:
            log.warning("funnel_gap_retention", watermark=after_seq, first_available=first)
        self.counts = FunnelCounts(seq=start - 1)
        config = api.ConsumerConfig(deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=max(1, start))
        self._sub = await self.js.subscribe(self.names.rider_subject, stream=self.names.location_stream,
                                            cb=self._on_msg, ordered_consumer=True, config=config,
                                            inactive_threshold=300.0, pending_msgs_limit=-1,
                                            pending_bytes_limit=-1)
        log.info("funnel_started", start_seq=start)
        return start

    async def _on_msg(self, msg) -> None:
        seq = msg.metadata.sequence.stream
        try:
            signal = demand_signal_decoder.decode(msg.data)
        except (msgspec.ValidationError, msgspec.DecodeError):
            signal = None  # the intake sends it to the DLQ; the funnel just skips it
        if signal is not None:
            step = classify(signal.kind, signal.event_id)
            if step is not None and -90 <= signal.lat <= 90 and -180 <= signal.lng <= 180 \
                    and signal.vehicle_type in self.vehicle_types():
                zone_id = self.zone_of_cell(point_token(signal.lat, signal.lng, self.cell_level))
                self.counts.add(zone_id, signal.vehicle_type, step)
                if self._counted is not None:
                    self._counted[step].inc()
        if seq > self.counts.seq:
            self.counts.seq = seq

    async def stop(self) -> None:
        """Stop consuming."""
        sub, self._sub = self._sub, None
        if sub is not None:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()


__all__ = ["ACCEPT", "QUOTE", "FunnelCounts", "FunnelFeed", "classify"]

"""Where the 60-day rollup of the emergency cap rule lives: KV ``eq_<region>_state`` key ``pricing.daily_max``.

The value is JSON ``{"version": 1, "updated_at": <epoch s>, "zones": {zone_id: {"YYYY-MM-DD": max}}}``.
On start the leader reads it; when it is missing (a new region, a wiped bucket) it is rebuilt by
replaying the last 61 days of the audit stream ``EQ_AUDIT_<REGION>`` (``pricing.cap_rule.replay``),
which holds every served change. The leader saves it (through the :class:`LeaderWriter`) when it
changed, at most once a minute and at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from zoneinfo import ZoneInfo

import msgspec
from nats.js import JetStreamContext, api
from nats.js.errors import KeyNotFoundError, NotFoundError

from ..bus.names import RegionNames
from ..logs import get_logger
from ..messages import AuditRecord, audit_record_decoder
from ..pricing.cap_rule import HISTORY_DAYS, DailyMaxRollup, replay
from .writer import LeaderWriter, Outgoing

log = get_logger(__name__)

ROLLUP_KEY = "pricing.daily_max"


class RollupDoc(msgspec.Struct, frozen=True):
    """The stored rollup."""

    zones: dict[str, dict[str, float]]
    updated_at: float = 0.0
    version: int = 1


_decoder = msgspec.json.Decoder(RollupDoc)
_encoder = msgspec.json.Encoder()


class RollupStore:
    """Loads, rebuilds and saves the daily-max rollup of a region."""

    def __init__(self, js: JetStreamContext, names: RegionNames, tz: ZoneInfo) -> None:
        self.js = js
        self.names = names
        self.tz = tz

    async def load(self, now: float) -> tuple[DailyMaxRollup, str]:
        """The stored rollup, else one rebuilt from the audit stream; and which it was."""
        kv = await self.js.key_value(self.names.state_bucket)
        try:
            entry = await kv.get(ROLLUP_KEY)
        except KeyNotFoundError:
            entry = None
        if entry is not None and entry.value:
            try:
                return DailyMaxRollup(_decoder.decode(entry.value).zones), "kv"
            except (msgspec.ValidationError, msgspec.DecodeError) as exc:
                log.warning("rollup_unreadable", error=str(exc))
        return await self.rebuild(now), "audit"

    async def rebuild(self, now: float, timeout_s: float = 60.0) -> DailyMaxRollup:
        """Replay the audit stream from ``HISTORY_DAYS + 1`` days before ``now``."""
        stream = self.names.audit_stream
        try:
            info = await self.js.stream_info(stream)
        except NotFoundError:
            return DailyMaxRollup()
        if not info.state.messages:
            return DailyMaxRollup()
        records: list[AuditRecord] = []
        done = asyncio.Event()

        async def on_msg(msg) -> None:
            with contextlib.suppress(msgspec.ValidationError, msgspec.DecodeError):
                records.append(audit_record_decoder.decode(msg.data))
            if msg.metadata.num_pending == 0:
                done.set()

        start = dt.datetime.fromtimestamp(now - (HISTORY_DAYS + 1) * 86_400, dt.UTC)
        config = api.ConsumerConfig(deliver_policy=api.DeliverPolicy.BY_START_TIME, opt_start_time=start)
        sub = await self.js.subscribe(self.names.audit_subject, stream=stream, cb=on_msg, ordered_consumer=True,
                                      config=config, pending_msgs_limit=-1, pending_bytes_limit=-1)
        try:
            consumer = await sub.consumer_info()
            if consumer.num_pending or sub.delivered:
                async with asyncio.timeout(timeout_s):
                    await done.wait()
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        rollup = replay(records, self.tz)
        rollup.dirty = True
        log.info("rollup_rebuilt", records=len(records), zones=len(rollup.days))
        return rollup

    def message(self, rollup: DailyMaxRollup) -> Outgoing:
        """The KV write of the rollup."""
        doc = RollupDoc(rollup.to_builtins(), updated_at=round(time.time(), 3))
        return Outgoing(f"$KV.{self.names.state_bucket}.{ROLLUP_KEY}", _encoder.encode(doc), True)

    async def save(self, writer: LeaderWriter, rollup: DailyMaxRollup) -> bool:
        """Write the rollup if it changed; True when written."""
        if not rollup.dirty:
            return False
        report = await writer.write([self.message(rollup)])
        if not report.failed:
            rollup.dirty = False
        return not report.failed


__all__ = ["ROLLUP_KEY", "RollupDoc", "RollupStore"]

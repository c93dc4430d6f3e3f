"""The pricing engine: the node service ``pricing`` that ticks the core and publishes what it decides.

Every ``pricing.tick_s`` the leader reads the live config (``ConfigStore.current``, so a change in
KV applies on the next tick, no restart), runs :meth:`PricingCore.tick` at market time
(``MarketView.now()``: stream time, or the wall clock when caught up) and publishes through the
:class:`~equilibrium_node.publish.writer.LeaderWriter`: surge KV entries (pipelined), surge subjects,
audit records. It sets ``status.last_pricing_monotonic`` on every tick (the REST API's degraded mode
reads it), keeps ``eq_ticks_total``, ``eq_tick_seconds``, ``eq_surge_updates_total`` and
``eq_cells_active``, logs a summary of each shadow algorithm once a minute, and saves the 60-day
rollup of the emergency cap rule when it changed (at most once a minute, and at shutdown).

Ticks wait for ``gate`` (the market caught up with its stream, and the leader lease held). The node
builds one engine per lease term; on start it forgets the previous term's per-cell state and takes
the served prices from the surge view (so a restarted or new leader continues from what the region
serves, and its ``rev`` from the highest one there) and loads the rollup. A write refused by the
lease's fence (:class:`~equilibrium_node.errors.NotLeaderError`) is counted in
``eq_fenced_writes_total{writer="publish"}``; the role controller stops the engine right after.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any, Protocol

from ..bus.names import RegionNames
from ..errors import NotLeaderError
from ..live_config import ConfigSnapshot
from ..logs import get_logger
from ..market.view import MarketView
from ..metrics import Metrics
from ..publish.audit import audit_messages, audit_records
from ..publish.history import RollupStore
from ..publish.surge import SurgeEncoder
from ..publish.writer import LeaderWriter
from ..status import NodeStatus
from .core import PricingCore, TickResult

log = get_logger(__name__)

ROLLUP_SAVE_S = 60.0
SHADOW_LOG_S = 60.0


class ConfigSource(Protocol):
    """Anything holding the current live config (the :class:`~equilibrium_node.live_config.ConfigStore`)."""

    current: ConfigSnapshot


class PricingEngine:
    """Ticks the pricing core on the leader and publishes its decisions (a node service)."""

    name = "pricing"

    def __init__(self, core: PricingCore, market: MarketView, config: ConfigSource, writer: LeaderWriter,
                 names: RegionNames, *, metrics: Metrics, status: NodeStatus, tick_s: float,
                 surge_view: Any = None, rollups: RollupStore | None = None,
                 gate: Callable[[], bool] | None = None) -> None:
        self.core = core
        self.market = market
        self.config = config
        self.writer = writer
        self.names = names
        self.metrics = metrics
        self.status = status
        self.tick_s = tick_s
        self.surge_view = surge_view
        self.rollups = rollups
        #: ticks are skipped while this says no: the market is still catching up with its stream (a
        #: price from half-replayed windows would be wrong), or the lease is not held
        self.gate = gate
        self.encoder = SurgeEncoder(names)
        self.last_result: TickResult | None = None
        self._stop = asyncio.Event()
        self._started = False
        self._last_rollup_save = time.monotonic()
        self._shadow: dict[tuple[str, str], list[float]] = {}
        self._last_shadow_log = time.monotonic()

    async def start(self) -> None:
        """Continue from what the region serves; load the rollup of the cap rule."""
        if self._started:
            return
        self._started = True
        self.core.reset()
        if self.surge_view is not None:
            entries = list(self.surge_view.entries.values())
            taken = self.core.load_served(e.update for e in entries)
            self.encoder.rev = max((e.update.rev for e in entries), default=0)
            log.info("pricing_resumed", entries=taken, rev=self.encoder.rev)
        if self.rollups is not None:
            self.core.rollup, source = await self.rollups.load(self.market.now())
            log.info("rollup_loaded", source=source, zones=len(self.core.rollup.days))

    async def run(self) -> None:
        """Tick every ``tick_s`` until stopped (a tick that overruns delays the next, never piles up)."""
        await self.start()
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while not self._stop.is_set():
            try:
                if self.gate is None or self.gate():
                    await self.tick_once()
            except NotLeaderError as exc:
                self.metrics.fenced_writes.labels(writer="publish").inc()
                log.warning("pricing_not_leader", error=exc.message)
            except Exception:
                self.metrics.tick_errors.inc()
                log.exception("pricing_tick_failed")
            next_at = max(next_at + self.tick_s, loop.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), next_at - loop.time())

    async def tick_once(self) -> TickResult:
        """One tick: price, publish, account."""
        started = time.perf_counter()
        result = self.core.tick(self.market, self.config.current, self.market.now())
        await self.publish(result)
        self.last_result = result
        self.metrics.ticks.inc()
        self.metrics.tick_seconds.observe(time.perf_counter() - started)
        self.metrics.cells_active.set(result.active_cells)
        self.status.last_pricing_monotonic = time.monotonic()
        self._account_shadow(result)
        if self.rollups is not None and time.monotonic() - self._last_rollup_save >= ROLLUP_SAVE_S:
            self._last_rollup_save = time.monotonic()
            await self.rollups.save(self.writer, self.core.rollup)
        return result

    async def publish(self, result: TickResult) -> None:
        """Surge KV entries and subjects, then the audit records, in one pipelined batch."""
        if not result.batches:
            return
        messages, audits = [], []
        for batch in result.batches:
            updates = self.encoder.updates(batch, result.now)
            messages.extend(self.encoder.messages(updates))
            audits.extend(audit_records(batch, updates, result.now))
        report = await self.writer.write(messages + audit_messages(self.names, audits))
        failed_kv = [m for m in report.failed if m.subject.startswith("$KV.")]
        failed_audits = sum(1 for m in report.failed if m.subject == self.names.audit_subject)
        for m in failed_kv:  # the bucket still holds the old entry: write it again next tick
            self.core.republish(m.tag.cell, m.tag.vehicle_type)
        self.metrics.surge_updates.inc(len(messages) // 2 - len(failed_kv))
        self.metrics.audit_records.inc(len(audits) - failed_audits)
        if report.failed:
            self.metrics.publish_failures.inc(len(report.failed))

    def _account_shadow(self, result: TickResult) -> None:
        for s in result.shadow:
            acc = self._shadow.setdefault((s.algorithm, s.vehicle_type), [0.0, 0.0, 0.0, 0.0])
            acc[0] += s.cells
            acc[1] += s.mean_target * s.cells
            acc[2] += s.mean_shadow * s.cells
            acc[3] = max(acc[3], s.max_abs_diff)
        if self._shadow and time.monotonic() - self._last_shadow_log >= SHADOW_LOG_S:
            for (algorithm, vt), (cells, target, shadow, diff) in sorted(self._shadow.items()):
                log.info("shadow_pricing", algorithm=algorithm, vehicle_type=vt, cells_priced=int(cells),
                         mean_served_target=round(target / cells, 4) if cells else None,
                         mean_shadow_target=round(shadow / cells, 4) if cells else None, max_abs_diff=round(diff, 4))
            self._shadow.clear()
            self._last_shadow_log = time.monotonic()

    async def stop(self) -> None:
        """Finish the current tick, save the rollup."""
        self._stop.set()
        if self.rollups is not None and self._started:
            with contextlib.suppress(Exception):
                await self.rollups.save(self.writer, self.core.rollup)
        await self.writer.flush()


__all__ = ["ConfigSource", "PricingEngine"]

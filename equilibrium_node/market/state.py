"""The market state: supply and demand per S2 cell and vehicle type, implementing :class:`MarketView`.

Written by the intake one batch at a time (:meth:`apply_pings`, :meth:`apply_signals`, then
:meth:`commit_batch` with the batch's last stream sequence and newest stream time), read by pricing,
the APIs and the checkpointer. Everything runs on the event loop: a batch is applied without an
``await``, so readers and the checkpointer only ever see whole batches.

Time is the stream clock (see :mod:`.windows` for the late / out-of-order policy). Reading at a
later time (the wall clock once the consumer is caught up) first *advances* the state to that time:
drivers and signals that left their windows are removed. The state is a pure function of the
applied events and the clock, whatever sequence of batches and advances led there, which is why a
state restored from a checkpoint and advanced to time T equals the never-interrupted state at T.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence

import msgspec
import numpy as np

from ..errors import ConfigError
from ..settings import MarketSettings
from .demand import Demand
from .snapshot import FORMAT, Snapshot
from .supply import STATUS_NAMES, Supply
from .table import CellTable, Counts
from .view import CellArrays, CellStats, DriverInfo
from .windows import NEVER, evaluation_time, kind_ranking

#: Stream seconds between sweeps of idle drivers and of old change stamps.
SWEEP_INTERVAL_S = 60.0


class MarketState:
    """In-memory windowed supply and demand (one region, one process)."""

    def __init__(self, settings: MarketSettings, *, wall_clock: Callable[[], float] = time.time) -> None:
        if settings.driver_idle_evict_s <= settings.supply_ttl_s:
            raise ConfigError("must be larger than market.supply_ttl_s", field="market.driver_idle_evict_s")
        self.settings = settings
        self.weights = (settings.weight_app_open, settings.weight_quote, settings.weight_request)
        self.table = CellTable()
        self.supply = Supply(self.table, settings.supply_ttl_s, settings.driver_idle_evict_s)
        self.demand = Demand(self.table, kind_ranking(self.weights))
        self.clock = NEVER
        self._applied_seq = 0
        #: set by the intake: no message left in the stream after the newest one applied
        self.caught_up = False
        self._wall = wall_clock
        self._next_sweep = NEVER
        #: exactly-once audit, checkpointed with the state: a message applied twice or skipped changes it
        self.audit = {"messages": 0, "seq_sum": 0, "pings": 0, "signals": 0}

    # writing --------------------------------------------------------------------------------------
    def apply_pings(self, ids: Sequence[str], cells: Sequence[str], vehicle_types: Sequence[str],
                    statuses: Sequence[int], lats: Sequence[float], lngs: Sequence[float],
                    stream_ts: Sequence[float], device_ts: Sequence[float]) -> int:
        """Apply driver pings (status codes 0 available, 1 on_trip, 2 offline); returns out-of-order drops."""
        dropped = self.supply.apply(ids, cells, vehicle_types, statuses, lats, lngs, stream_ts, device_ts, self.clock)
        self.audit["pings"] += len(ids) - dropped
        return dropped

    def apply_signals(self, ids: Sequence[str], cells: Sequence[str], vehicle_types: Sequence[str],
                      kinds: Sequence[int], stream_ts: Sequence[float]) -> None:
        """Apply demand signals (kind codes 0 app_open, 1 quote, 2 request)."""
        self.demand.apply(ids, cells, vehicle_types, kinds, stream_ts, self.clock)
        self.audit["signals"] += len(ids)

    def commit_batch(self, last_seq: int, newest_stream_ts: float, *, messages: int = 0, seq_sum: int = 0) -> None:
        """Close a batch: record its last stream sequence and move the clock to its newest stream time.

        ``messages`` and ``seq_sum`` (how many stream messages the batch had, valid or not, and the sum
        of their sequences) feed the exactly-once audit.
        """
        if last_seq > self._applied_seq:
            self._applied_seq = last_seq
        self.audit["messages"] += messages
        self.audit["seq_sum"] += seq_sum
        self._advance(newest_stream_ts)
        self.table.commit()

    def advance(self, now: float) -> None:
        """Move the clock forward to ``now`` (never back), expiring what left its window."""
        self._advance(now)
        self.table.commit()

    def _advance(self, now: float) -> None:
        if now > self.clock:
            self.clock = now
        now = self.clock
        self.supply.expire(now)
        self.demand.expire(now)
        if now >= self._next_sweep:
            if self._next_sweep != NEVER:
                self.supply.sweep(now)
                self.table.forget_old()
            self._next_sweep = now + SWEEP_INTERVAL_S

    # MarketView -----------------------------------------------------------------------------------
    @property
    def applied_seq(self) -> int:
        """Last stream sequence applied to the state (0 when none)."""
        return self._applied_seq

    def now(self) -> float:
        """Stream time of the newest applied message, or the wall clock once the consumer is caught up."""
        clock = self.clock if self.clock != NEVER else 0.0
        return evaluation_time(clock, self._wall(), self.caught_up)

    def _at(self, now: float | None) -> None:
        self.advance(self.now() if now is None else now)

    def cell_stats(self, cell: str, vehicle_type: str, now: float | None = None) -> CellStats:
        """Supply, on-trip and weighted demand of one cell (zeros for an unknown cell)."""
        self._at(now)
        counts = self.table.counts(cell, vehicle_type)
        if counts is None:
            return CellStats(0, 0, 0.0, 0.0)
        return self._stats(counts)

    def _stats(self, c: Counts) -> CellStats:
        w0, w1, w2 = self.weights
        return CellStats(c.available, c.on_trip, c.d60_app_open * w0 + c.d60_quote * w1 + c.d60_request * w2,
                         c.d300_app_open * w0 + c.d300_quote * w1 + c.d300_request * w2)

    def cell_arrays(self, cells: Sequence[str], vehicle_type: str, now: float | None = None) -> CellArrays:
        """:meth:`cell_stats` for many cells as float64 arrays."""
        self._at(now)
        n = len(cells)
        out = np.zeros((4, n), dtype=np.float64)
        table = self.table.cells
        stats = self._stats
        for i, cell in enumerate(cells):
            per_vt = table.get(cell)
            if per_vt is not None:
                counts = per_vt.get(vehicle_type)
                if counts is not None:
                    out[:, i] = stats(counts)
        return CellArrays(out[0], out[1], out[2], out[3])

    def active_cells(self) -> Iterable[str]:
        """Cells with any supply, on-trip driver or demand in the 5-minute window."""
        self._at(None)
        return list(self.table.cells)

    def changed_since(self, version: int) -> tuple[set[str], int]:
        """Cells whose inputs changed after ``version`` (0: every known cell), and the current version."""
        self._at(None)
        return self.table.changed_since(version), self.table.version

    def driver(self, driver_id: str) -> DriverInfo | None:
        """Latest known state of a driver (until it is idle for ``driver_idle_evict_s``), or None."""
        rec = self.supply.get(driver_id, self.now())
        if rec is None:
            return None
        return DriverInfo(driver_id, rec.lat, rec.lng, rec.cell, STATUS_NAMES[rec.status], rec.vehicle_type, rec.t)

    # inspection -----------------------------------------------------------------------------------
    def cell_detail(self, cell: str, now: float | None = None) -> dict[str, CellStats]:
        """Every vehicle type's stats in one cell."""
        self._at(now)
        per_vt = self.table.cells.get(cell) or {}
        return {vt: self._stats(counts) for vt, counts in sorted(per_vt.items())}

    def sizes(self) -> dict[str, int]:
        """Record counts (for logs and the memory test)."""
        return {"drivers": len(self.supply.drivers), "riders": len(self.demand.records),
                "cells": len(self.table.cells), "live_drivers": self.supply.counted()}

    # snapshots ------------------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """A consistent cut of the facts at the current clock (call between batches)."""
        self.advance(self.clock)
        return Snapshot(FORMAT, self._applied_seq, self.clock, self.supply.records(self.clock),
                        self.demand.snapshot_records(), dict(self.audit))

    def restore(self, snap: Snapshot) -> None:
        """Replace the state by a snapshot's (counts and orders are rebuilt from its facts)."""
        self.table.clear()
        self.clock = snap.clock
        self._applied_seq = snap.seq
        self._next_sweep = NEVER
        self.audit = {"messages": 0, "seq_sum": 0, "pings": 0, "signals": 0, **snap.audit}
        self.supply.restore(snap.drivers, snap.clock)
        self.demand.restore(snap.riders, snap.clock)
        self.table.commit()

    def reset(self) -> None:
        """Forget everything (an empty state at sequence 0), as a fresh process would start."""
        self.restore(Snapshot(FORMAT, 0, NEVER, [], [], {}))
        self.caught_up = False

    def canonical(self) -> dict:
        """The whole state as plain sorted data, to compare two states at the same clock (tests)."""
        drivers = sorted(msgspec.structs.astuple(r) for r in self.supply.records(self.clock))
        riders = sorted(msgspec.structs.astuple(r) for r in self.demand.records.values())
        cells = {c: {vt: v.as_list() for vt, v in sorted(per.items())} for c, per in sorted(self.table.cells.items())}
        return {"seq": self._applied_seq, "clock": self.clock, "audit": dict(self.audit), "drivers": drivers,
                "riders": riders, "cells": cells}

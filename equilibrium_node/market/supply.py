"""Supply: every driver's latest ping, and the count of fresh drivers per cell, vehicle type and status.

A driver is one record ``[driver_id, cell, vehicle_type, status, stream_ts, effective_ts, lat, lng,
counted]`` (a plain list: the hot path indexes it). It counts in exactly one cell: the cell of its
latest ping, while that ping is ``available`` or ``on_trip`` and younger than ``supply_ttl_s``
(stream time). A new ping moves the count (both cells change); ``offline`` and expiry remove it.
Records of drivers silent for ``driver_idle_evict_s`` are forgotten by a periodic sweep; until the
sweep runs they are treated as absent, so the sweep's timing never changes a result.
"""

from __future__ import annotations

from collections.abc import Sequence

from .expiry import TimeOrder
from .table import CellTable
from .windows import NEVER

ID, CELL, VT, STATUS, T, E, LAT, LNG, COUNTED = range(9)
AVAILABLE, ON_TRIP, OFFLINE = 0, 1, 2
STATUS_NAMES = ("available", "on_trip", "offline")


class Supply:
    """Driver records and their counts in a :class:`CellTable`."""

    def __init__(self, table: CellTable, ttl_s: float, idle_s: float) -> None:
        self.table = table
        self.ttl_s = ttl_s
        self.idle_s = idle_s
        self.drivers: dict[str, list] = {}
        self.live = TimeOrder()  # counted drivers by the stream time of their latest ping

    def apply(self, ids: Sequence[str], cells: Sequence[str], vehicle_types: Sequence[str], statuses: Sequence[int],
              lats: Sequence[float], lngs: Sequence[float], stream_ts: Sequence[float], device_ts: Sequence[float],
              clock: float) -> int:
        """Apply pings in stream order at ``clock`` (the clock before the batch); returns out-of-order drops."""
        drivers, table, live = self.drivers, self.table, self.live
        ttl, idle = self.ttl_s, self.idle_s
        add, sub = table.add, table.sub
        dropped = 0
        for did, cell, vt, st, lat, lng, t, dev in zip(ids, cells, vehicle_types, statuses, lats, lngs, stream_ts,
                                                       device_ts, strict=True):
            e = dev if dev < t else t
            counts = st != OFFLINE and t + ttl > clock
            rec = drivers.get(did)
            if rec is None:
                drivers[did] = [did, cell, vt, st, t, e, lat, lng, counts]
                if counts:
                    add(cell, vt, st)
                    live.touch(did, t)
                continue
            if e < rec[E] and rec[T] + idle > clock:
                dropped += 1
                continue
            if rec[COUNTED]:
                if counts and rec[CELL] == cell and rec[STATUS] == st and rec[VT] == vt:
                    pass  # same cell, status and type: only the times move
                else:
                    sub(rec[CELL], rec[VT], rec[STATUS])
                    if counts:
                        add(cell, vt, st)
                if not counts:
                    live.discard(did)
            elif counts:
                add(cell, vt, st)
            if counts:
                live.touch(did, t)
            rec[1:9] = cell, vt, st, t, e, lat, lng, counts
        return dropped

    def expire(self, now: float) -> int:
        """Uncount drivers whose latest ping left the TTL window; returns how many."""
        due = self.live.pop_due(now, self.ttl_s)
        drivers, sub = self.drivers, self.table.sub
        for did, _t in due:
            rec = drivers[did]
            rec[COUNTED] = False
            sub(rec[CELL], rec[VT], rec[STATUS])
        return len(due)

    def sweep(self, now: float) -> int:
        """Forget drivers silent for ``idle_s``; returns how many."""
        idle = self.idle_s
        gone = [did for did, rec in self.drivers.items() if rec[T] + idle <= now]
        for did in gone:
            rec = self.drivers.pop(did)
            if rec[COUNTED]:  # cannot happen while idle_s > ttl_s; kept exact anyway
                self.live.discard(did)
                self.table.sub(rec[CELL], rec[VT], rec[STATUS])
        return len(gone)

    def get(self, driver_id: str, now: float) -> list | None:
        """The record of a driver not idle at ``now``."""
        rec = self.drivers.get(driver_id)
        if rec is None or rec[T] + self.idle_s <= now:
            return None
        return rec

    def records(self, now: float) -> list[list]:
        """Every record not idle at ``now`` (the snapshot's driver list)."""
        idle = self.idle_s
        return [rec for rec in self.drivers.values() if rec[T] + idle > now]

    def restore(self, records: Sequence[Sequence], now: float) -> None:
        """Rebuild records, counts and expiry order from snapshot records at clock ``now``."""
        self.drivers.clear()
        self.live = TimeOrder()
        ttl, idle = self.ttl_s, self.idle_s
        for raw in sorted(records, key=lambda r: r[T]):
            did, cell, vt, st, t, e, lat, lng = raw[:8]
            if t + idle <= now:
                continue
            counts = st != OFFLINE and t + ttl > now
            self.drivers[did] = [did, cell, vt, st, t, e, lat, lng, counts]
            if counts:
                self.table.add(cell, vt, st)
                self.live.touch(did, t)

    @staticmethod
    def newest(records: Sequence[Sequence]) -> float:
        """Largest stream time among records (for sanity checks)."""
        return max((r[T] for r in records), default=NEVER)

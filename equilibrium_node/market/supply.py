"""Supply: every driver's latest ping, and the count of fresh drivers per cell, vehicle type and status.

A driver is one :class:`Driver` record (a msgspec Struct without garbage-collector tracking: a
hundred thousand of them cost the cyclic GC nothing, and it encodes as the snapshot's array). It
counts in exactly one cell: the cell of its latest ping, while that ping is ``available`` or
``on_trip`` and younger than ``supply_ttl_s`` (stream time). A new ping moves the count (both cells
change); ``offline`` and expiry remove it. Records of drivers silent for ``driver_idle_evict_s`` are
forgotten by a periodic sweep; until the sweep runs they are treated as absent, so the sweep's
timing never changes a result.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from .expiry import TimeQueue
from .table import CellTable

AVAILABLE, ON_TRIP, OFFLINE = 0, 1, 2
STATUS_NAMES = ("available", "on_trip", "offline")


class Driver(msgspec.Struct, gc=False, array_like=True):
    """A driver's latest ping (fields in snapshot order)."""

    driver_id: str
    cell: str
    vehicle_type: str
    status: int  # AVAILABLE, ON_TRIP or OFFLINE
    t: float  # stream time of the ping
    e: float  # effective time: min(device ts, stream time), orders the driver's pings
    lat: float
    lng: float
    counted: bool = False  # derived: counts in its cell now


class Supply:
    """Driver records and their counts in a :class:`CellTable`."""

    def __init__(self, table: CellTable, ttl_s: float, idle_s: float) -> None:
        self.table = table
        self.ttl_s = ttl_s
        self.idle_s = idle_s
        self.drivers: dict[str, list] = {}
        self.fresh = TimeQueue()  # an entry per counted ping; expiry re-checks the driver's record

    def apply(self, ids: Sequence[str], cells: Sequence[str], vehicle_types: Sequence[str], statuses: Sequence[int],
              lats: Sequence[float], lngs: Sequence[float], stream_ts: Sequence[float], device_ts: Sequence[float],
              clock: float) -> int:
        """Apply pings in stream order at ``clock`` (the clock before the batch); returns out-of-order drops."""
        drivers, table = self.drivers, self.table
        ttl, idle = self.ttl_s, self.idle_s
        add, sub, push = table.add, table.sub, self.fresh.push
        dropped = 0
        for did, cell, vt, st, lat, lng, t, dev in zip(ids, cells, vehicle_types, statuses, lats, lngs, stream_ts,
                                                       device_ts, strict=True):
            e = dev if dev < t else t
            counts = st != OFFLINE and t + ttl > clock
            rec = drivers.get(did)
            if rec is None:
                drivers[did] = Driver(did, cell, vt, st, t, e, lat, lng, counts)
                if counts:
                    add(cell, vt, st)
                    push(did, t)
                continue
            if e < rec.e and rec.t + idle > clock:
                dropped += 1
                continue
            if rec.counted:
                if counts and rec.cell == cell and rec.status == st and rec.vehicle_type == vt:
                    # the common case: same cell, status and type; only the times and position move
                    rec.t, rec.e, rec.lat, rec.lng = t, e, lat, lng
                    push(did, t)
                    continue
                sub(rec.cell, rec.vehicle_type, rec.status)
            if counts:
                add(cell, vt, st)
                push(did, t)
            rec.cell, rec.vehicle_type, rec.status, rec.t, rec.e, rec.lat, rec.lng = cell, vt, st, t, e, lat, lng
            rec.counted = counts
        return dropped

    def expire(self, now: float) -> int:
        """Uncount drivers whose latest ping left the TTL window; returns how many."""
        drivers, sub, ttl = self.drivers, self.table.sub, self.ttl_s
        n = 0
        for did, _t in self.fresh.pop_due(now, ttl):
            rec = drivers.get(did)
            if rec is not None and rec.counted and rec.t + ttl <= now:
                rec.counted = False
                sub(rec.cell, rec.vehicle_type, rec.status)
                n += 1
        return n

    def sweep(self, now: float) -> int:
        """Forget drivers silent for ``idle_s``; returns how many."""
        idle = self.idle_s
        gone = [did for did, rec in self.drivers.items() if rec.t + idle <= now]
        for did in gone:
            rec = self.drivers.pop(did)
            if rec.counted:  # cannot happen while idle_s > ttl_s; kept exact anyway
                self.table.sub(rec.cell, rec.vehicle_type, rec.status)
        return len(gone)

    def counted(self) -> int:
        """Drivers counted in some cell now."""
        return sum(1 for rec in self.drivers.values() if rec.counted)

    def get(self, driver_id: str, now: float) -> Driver | None:
        """The record of a driver not idle at ``now``."""
        rec = self.drivers.get(driver_id)
        if rec is None or rec.t + self.idle_s <= now:
            return None
        return rec

    def records(self, now: float) -> list[Driver]:
        """Every record not idle at ``now`` (the snapshot's driver list)."""
        idle = self.idle_s
        return [rec for rec in self.drivers.values() if rec.t + idle > now]

    def restore(self, records: Sequence[Sequence], now: float) -> None:
        """Rebuild records, counts and expiry queue from snapshot records at clock ``now``."""
        self.drivers.clear()
        self.fresh = TimeQueue()
        ttl, idle = self.ttl_s, self.idle_s
        for raw in sorted(records, key=lambda r: r[4]):
            did, cell, vt, st, t, e, lat, lng = raw[:8]
            if t + idle <= now:
                continue
            counts = st != OFFLINE and t + ttl > now
            self.drivers[did] = Driver(did, cell, vt, st, float(t), float(e), float(lat), float(lng), counts)
            if counts:
                self.table.add(cell, vt, st)
                self.fresh.push(did, t)

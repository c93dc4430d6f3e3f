"""Rolled-up zone history: per zone and vehicle type, sums per time bucket, in two fixed-size rings.

Pure (numpy, no I/O). Every node folds the snapshot records and audit records it tails into this
rollup (:mod:`.tail`); the analytics API answers from it without reading a stream. Per (zone,
vehicle type, bucket) it keeps :data:`FIELDS`: the number of snapshot records and the sums of their
mean multiplier, supply, on-trip drivers, demand, quotes and accepts, the highest max multiplier,
and the number of rises and falls among the audit records (a served multiplier going up or down).

Two resolutions: hourly buckets over ``span_s`` (the snapshot retention, 90 days by default) and
5-minute buckets over ``detail_span_s`` (2 days by default), for charts with short steps. Each ring
is one array ``[rows, buckets, fields]`` indexed by ``bucket % capacity``: it covers the buckets up
to the newest one seen (at least the wall clock's) and forgets older ones as time moves on, so
memory is fixed per (zone, vehicle type): 100 zones x 1 vehicle type x 90 days is 17 MB.

Records are bucketed by their own ``ts`` (the record's time), never by the stream timestamp. A
record older than a ring's span is skipped by it; one more than an hour in the future is skipped
altogether (counted), so a bad clock cannot wipe the history by moving the rings forward.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import numpy as np

from ..messages import AuditRecord, ZoneSnapshot

FIELDS = ("snapshots", "multiplier_sum", "multiplier_max", "supply_sum", "on_trip_sum", "demand_sum", "quotes",
          "accepts", "rises", "falls")
(SNAPSHOTS, MULT_SUM, MULT_MAX, SUPPLY_SUM, ON_TRIP_SUM, DEMAND_SUM, QUOTES, ACCEPTS, RISES,
 FALLS) = range(len(FIELDS))
NF = len(FIELDS)

HOUR_S = 3600
DETAIL_BUCKET_S = 300
FUTURE_SLACK_S = 3600.0
FLUSH_EVERY = 4096

Key = tuple[str, str]  # (zone_id, vehicle_type)


def combine(block: np.ndarray, axis: int) -> np.ndarray:
    """Fold buckets (or rows) along ``axis``: sums, except the highest multiplier, which is a max."""
    out = block.sum(axis=axis)
    out[..., MULT_MAX] = block[..., MULT_MAX].max(axis=axis) if block.shape[axis] else 0.0
    return out


class BucketRing:
    """Fixed-width time buckets per row over a sliding span, as one array."""

    def __init__(self, bucket_s: int, span_s: float) -> None:
        self.bucket_s = bucket_s
        self.capacity = math.ceil(span_s / bucket_s) + 1
        self.data = np.zeros((0, self.capacity, NF))
        self.newest = -1  # newest bucket number covered; -1 before the first

    @property
    def oldest(self) -> int:
        """Oldest bucket number still held."""
        return self.newest - self.capacity + 1

    def bucket_of(self, ts: float | np.ndarray):
        """Bucket number(s) of epoch time(s)."""
        return np.floor_divide(ts, self.bucket_s).astype(np.int64) if isinstance(ts, np.ndarray) \
            else int(ts // self.bucket_s)

    def grow(self, rows: int) -> None:
        """Make room for ``rows`` rows."""
        have = self.data.shape[0]
        if rows > have:
            grown = np.zeros((max(rows, 2 * have, 8), self.capacity, NF))
            grown[:have] = self.data
            self.data = grown

    def advance(self, bucket: int) -> None:
        """Cover up to ``bucket``: buckets that fall out of the span are cleared for reuse."""
        if bucket <= self.newest:
            return
        if self.newest < 0 or bucket - self.newest >= self.capacity:
            self.data[:] = 0.0
        else:
            self.data[:, np.arange(self.newest + 1, bucket + 1) % self.capacity, :] = 0.0
        self.newest = bucket

    def add(self, rows: np.ndarray, buckets: np.ndarray, values: np.ndarray) -> int:
        """Fold ``values[i]`` into (``rows[i]``, ``buckets[i]``); returns how many fell outside the span."""
        keep = (buckets >= self.oldest) & (buckets <= self.newest)
        if not keep.all():
            rows, buckets, values = rows[keep], buckets[keep], values[keep]
        if len(rows):
            slots = buckets % self.capacity
            summed = values.copy()
            summed[:, MULT_MAX] = 0.0
            np.add.at(self.data, (rows, slots), summed)
            np.maximum.at(self.data[:, :, MULT_MAX], (rows, slots), values[:, MULT_MAX])
        return int((~keep).sum())

    def window(self, rows: Sequence[int] | np.ndarray, first: int, last: int) -> np.ndarray:
        """``[len(rows), last - first + 1, fields]`` for buckets ``first..last`` (zeros where not held)."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.zeros((len(rows), max(0, last - first + 1), NF))
        lo, hi = max(first, self.oldest), min(last, self.newest)
        if lo <= hi and len(rows):
            out[:, lo - first:hi - first + 1] = self.data[np.ix_(rows, np.arange(lo, hi + 1) % self.capacity)]
        return out


class ZoneRollup:
    """The rolled-up history of every zone and vehicle type (hourly and 5-minute rings)."""

    def __init__(self, span_s: float, detail_span_s: float, clock: Callable[[], float] = time.time,
                 on_drop: Callable[[str, int], None] | None = None) -> None:
        self.clock = clock
        #: told about skipped records: ("old" | "future", count)
        self.on_drop = on_drop
        self.span_s = span_s
        self.keys: dict[Key, int] = {}
        self.key_list: list[Key] = []
        self.hourly = BucketRing(HOUR_S, span_s)
        self.detail = BucketRing(DETAIL_BUCKET_S, detail_span_s)
        self._rows: list[int] = []
        self._ts: list[float] = []
        self._values: list[tuple[float, ...]] = []
        self.applied = 0
        self.dropped = {"old": 0, "future": 0}

    def row(self, key: Key) -> int:
        """Row of a (zone, vehicle type), created on first use."""
        row = self.keys.get(key)
        if row is None:
            row = self.keys[key] = len(self.key_list)
            self.key_list.append(key)
            self.hourly.grow(row + 1)
            self.detail.grow(row + 1)
        return row

    def rows(self, zone_id: str | None = None, vehicle_type: str | None = None) -> list[int]:
        """Rows of one zone and/or one vehicle type (None: any)."""
        return [row for (z, vt), row in self.keys.items()
                if (zone_id is None or z == zone_id) and (vehicle_type is None or vt == vehicle_type)]

    @property
    def pending(self) -> int:
        """Records added but not folded in yet."""
        return len(self._rows)

    def add_snapshot(self, rec: ZoneSnapshot) -> None:
        """Queue a snapshot record (folded in by :meth:`flush`, automatically every few thousand)."""
        self._rows.append(self.row((rec.zone_id, rec.vehicle_type)))
        self._ts.append(rec.ts)
        self._values.append((1.0, rec.mean_multiplier, rec.max_multiplier, rec.supply, rec.on_trip, rec.demand,
                             rec.quotes, rec.accepts, 0.0, 0.0))
        if len(self._rows) >= FLUSH_EVERY:
            self.flush()

    def add_audit(self, rec: AuditRecord) -> None:
        """Queue an audit record as a rise or a fall of its zone (an unchanged multiplier counts as neither)."""
        if rec.new_multiplier == rec.old_multiplier:
            return
        rise = rec.new_multiplier > rec.old_multiplier
        self._rows.append(self.row((rec.zone_id, rec.vehicle_type)))
        self._ts.append(rec.ts)
        self._values.append((0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, float(rise), float(not rise)))
        if len(self._rows) >= FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        """Fold the queued records into both rings and move them up to the clock."""
        now = self.clock()
        if not self._rows:
            self.advance(now)
            return
        rows = np.array(self._rows, dtype=np.int64)
        ts = np.array(self._ts, dtype=np.float64)
        values = np.array(self._values, dtype=np.float64)
        self._rows, self._ts, self._values = [], [], []
        future = ts > now + FUTURE_SLACK_S
        if future.any():
            self._drop("future", int(future.sum()))
            rows, ts, values = rows[~future], ts[~future], values[~future]
        newest = max(now, float(ts.max())) if len(ts) else now
        self.advance(newest)
        self._drop("old", self.hourly.add(rows, self.hourly.bucket_of(ts), values))
        self.detail.add(rows, self.detail.bucket_of(ts), values)  # older than 2 days: expected, not counted
        self.applied += len(rows)

    def _drop(self, reason: str, count: int) -> None:
        if count:
            self.dropped[reason] += count
            if self.on_drop is not None:
                self.on_drop(reason, count)

    def advance(self, now: float) -> None:
        """Move both rings up to ``now``."""
        self.hourly.advance(self.hourly.bucket_of(now))
        self.detail.advance(self.detail.bucket_of(now))


__all__ = ["ACCEPTS", "DEMAND_SUM", "FALLS", "FIELDS", "MULT_MAX", "MULT_SUM", "ON_TRIP_SUM", "QUOTES", "RISES",
           "SNAPSHOTS", "SUPPLY_SUM", "BucketRing", "ZoneRollup", "combine"]

"""Demand: distinct riders per cell and vehicle type in sliding 1- and 5-minute windows, by strongest kind.

A rider with a signal in a cell has one :class:`Rider` record per (rider, cell, vehicle type): the
latest stream time of each kind and, per window, the kind the rider currently counts as (the
highest-ranked kind still inside the window, see :func:`.windows.best_kind`). The table counts
riders per best kind; the weights are applied on reading. Each window has a :class:`TimeQueue` with
an entry per signal; when an entry leaves the window, the rider's best kind for that window is
recomputed from the record (it may fall from request to app_open, or out of the window). A record
leaves with its last signal.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from .expiry import TimeQueue
from .table import CellTable, demand_slot
from .windows import DEMAND_WINDOWS_S, NEVER, NO_KIND, best_kind

#: Record fields holding the latest stream time of each kind code, and the best kind per window.
TIME_FIELDS = ("t_app_open", "t_quote", "t_request")
BEST_FIELDS = ("best_60s", "best_300s")


class Rider(msgspec.Struct, gc=False, array_like=True):
    """A rider's latest signals in one cell for one vehicle type (fields in snapshot order)."""

    rider_id: str
    cell: str
    vehicle_type: str
    t_app_open: float = NEVER
    t_quote: float = NEVER
    t_request: float = NEVER
    best_60s: int = NO_KIND  # derived
    best_300s: int = NO_KIND  # derived

    def times(self) -> tuple[float, float, float]:
        """Latest stream time per kind code."""
        return self.t_app_open, self.t_quote, self.t_request


class Demand:
    """Rider records and their counts in a :class:`CellTable`."""

    def __init__(self, table: CellTable, rank: Sequence[int]) -> None:
        self.table = table
        self.rank = tuple(rank)
        self.records: dict[tuple[str, str, str], Rider] = {}
        self.queues = [TimeQueue() for _ in DEMAND_WINDOWS_S]

    def apply(self, ids: Sequence[str], cells: Sequence[str], vehicle_types: Sequence[str], kinds: Sequence[int],
              stream_ts: Sequence[float], clock: float) -> None:
        """Apply demand signals in stream order at ``clock`` (the clock before the batch)."""
        records, table, queues, rank = self.records, self.table, self.queues, self.rank
        windows = tuple(enumerate(DEMAND_WINDOWS_S))
        w_long = DEMAND_WINDOWS_S[1]
        for rid, cell, vt, k, t in zip(ids, cells, vehicle_types, kinds, stream_ts, strict=True):
            key = (rid, cell, vt)
            rec = records.get(key)
            field = TIME_FIELDS[k]
            if rec is None:
                if t + w_long <= clock:
                    continue  # already outside both windows (a stream clock that stepped back)
                rec = records[key] = Rider(rid, cell, vt)
            elif t <= getattr(rec, field):
                continue  # not newer than what the rider already showed
            setattr(rec, field, t)
            for j, w in windows:
                if t + w <= clock:
                    continue
                queues[j].push(key, t)
                best = BEST_FIELDS[j]
                cur = getattr(rec, best)
                if cur == NO_KIND:
                    table.add(cell, vt, demand_slot(j, k))
                    setattr(rec, best, k)
                elif cur != k and rank[k] > rank[cur]:
                    table.sub(cell, vt, demand_slot(j, cur))
                    table.add(cell, vt, demand_slot(j, k))
                    setattr(rec, best, k)

    def expire(self, now: float) -> int:
        """Recompute riders whose signals left a window; returns how many records were forgotten."""
        records, table, rank = self.records, self.table, self.rank
        forgotten = 0
        for j, w in enumerate(DEMAND_WINDOWS_S):  # the short window first: a record dies in the long one
            best_field = BEST_FIELDS[j]
            for key, _t in self.queues[j].pop_due(now, w):
                rec = records.get(key)
                if rec is None:
                    continue
                cur = getattr(rec, best_field)
                new = best_kind(rec.times(), now, w, rank)
                if new != cur:
                    if cur != NO_KIND:
                        table.sub(rec.cell, rec.vehicle_type, demand_slot(j, cur))
                    if new != NO_KIND:
                        table.add(rec.cell, rec.vehicle_type, demand_slot(j, new))
                    setattr(rec, best_field, new)
                if j == 1 and new == NO_KIND:
                    del records[key]
                    forgotten += 1
        return forgotten

    def snapshot_records(self) -> list[Rider]:
        """Every record (the snapshot's rider list)."""
        return list(self.records.values())

    def restore(self, records: Sequence[Sequence], now: float) -> None:
        """Rebuild records, counts and expiry queues from snapshot records at clock ``now``."""
        self.records.clear()
        self.queues = [TimeQueue() for _ in DEMAND_WINDOWS_S]
        entries: list[tuple[float, int, tuple[str, str, str]]] = []
        for raw in records:
            rid, cell, vt = raw[0], raw[1], raw[2]
            times = tuple(float(x) for x in raw[3:6])
            if all(t + DEMAND_WINDOWS_S[1] <= now for t in times):
                continue
            key = (rid, cell, vt)
            rec = Rider(rid, cell, vt, *times)
            for j, w in enumerate(DEMAND_WINDOWS_S):
                best = best_kind(times, now, w, self.rank)
                setattr(rec, BEST_FIELDS[j], best)
                if best != NO_KIND:
                    self.table.add(cell, vt, demand_slot(j, best))
                entries.extend((t, j, key) for t in times if t + w > now)
            self.records[key] = rec
        for t, j, key in sorted(entries, key=lambda e: e[0]):
            self.queues[j].push(key, t)

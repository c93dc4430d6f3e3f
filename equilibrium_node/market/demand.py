"""Demand: distinct riders per cell and vehicle type in sliding 1- and 5-minute windows, by strongest kind.

A rider with a signal in a cell has one record per (rider, cell, vehicle type): ``[rider_id, cell,
vehicle_type, t_app_open, t_quote, t_request, best_60s, best_300s]``, the latest stream time of each
kind and, per window, the kind the rider currently counts as (the highest-ranked kind still inside
the window, see :func:`.windows.best_kind`). The table counts riders per best kind; the weights are
applied on reading. Each (window, kind) has a :class:`TimeOrder` of the records whose latest signal
of that kind is in the window; when it leaves, the rider's best kind for that window is recomputed
(it may fall from request to app_open, or out of the window). A record leaves with its last signal.
"""

from __future__ import annotations

from collections.abc import Sequence

from .expiry import TimeOrder
from .table import CellTable, demand_slot
from .windows import DEMAND_WINDOWS_S, NEVER, NO_KIND, best_kind

RID, CELL, VT, T0 = 0, 1, 2, 3
BEST0 = 6  # BEST0 + window index


class Demand:
    """Rider records and their counts in a :class:`CellTable`."""

    def __init__(self, table: CellTable, rank: Sequence[int]) -> None:
        self.table = table
        self.rank = tuple(rank)
        self.records: dict[tuple[str, str, str], list] = {}
        self.orders = [[TimeOrder() for _ in range(3)] for _ in DEMAND_WINDOWS_S]

    def apply(self, ids: Sequence[str], cells: Sequence[str], vehicle_types: Sequence[str], kinds: Sequence[int],
              stream_ts: Sequence[float], clock: float) -> None:
        """Apply demand signals in stream order at ``clock`` (the clock before the batch)."""
        records, table, orders, rank = self.records, self.table, self.orders, self.rank
        w_short, w_long = DEMAND_WINDOWS_S
        for rid, cell, vt, k, t in zip(ids, cells, vehicle_types, kinds, stream_ts, strict=True):
            key = (rid, cell, vt)
            rec = records.get(key)
            if rec is None:
                if t + w_long <= clock:
                    continue  # already outside both windows (a stream clock that stepped back)
                rec = records[key] = [rid, cell, vt, NEVER, NEVER, NEVER, NO_KIND, NO_KIND]
            elif t <= rec[T0 + k]:
                continue  # not newer than what the rider already showed
            rec[T0 + k] = t
            for j, w in ((0, w_short), (1, w_long)):
                if t + w <= clock:
                    continue
                orders[j][k].touch(key, t)
                cur = rec[BEST0 + j]
                if cur == NO_KIND:
                    table.add(cell, vt, demand_slot(j, k))
                    rec[BEST0 + j] = k
                elif cur != k and rank[k] > rank[cur]:
                    table.sub(cell, vt, demand_slot(j, cur))
                    table.add(cell, vt, demand_slot(j, k))
                    rec[BEST0 + j] = k

    def expire(self, now: float) -> int:
        """Recompute riders whose signals left a window; returns how many records were forgotten."""
        records, table, rank = self.records, self.table, self.rank
        forgotten = 0
        for j, w in enumerate(DEMAND_WINDOWS_S):
            for k in range(3):
                for key, t in self.orders[j][k].pop_due(now, w):
                    rec = records.get(key)
                    if rec is None or rec[T0 + k] != t:
                        continue
                    cur = rec[BEST0 + j]
                    new = best_kind(rec[T0:T0 + 3], now, w, rank)
                    if new != cur:
                        if cur != NO_KIND:
                            table.sub(rec[CELL], rec[VT], demand_slot(j, cur))
                        if new != NO_KIND:
                            table.add(rec[CELL], rec[VT], demand_slot(j, new))
                        rec[BEST0 + j] = new
                    if j == 1 and new == NO_KIND:
                        del records[key]
                        forgotten += 1
        return forgotten

    def snapshot_records(self) -> list[list]:
        """Every record (the snapshot's rider list)."""
        return list(self.records.values())

    def restore(self, records: Sequence[Sequence], now: float) -> None:
        """Rebuild records, counts and expiry orders from snapshot records at clock ``now``."""
        self.records.clear()
        self.orders = [[TimeOrder() for _ in range(3)] for _ in DEMAND_WINDOWS_S]
        entries: list[tuple[float, int, int, tuple[str, str, str]]] = []
        for raw in records:
            rid, cell, vt = raw[RID], raw[CELL], raw[VT]
            times = [float(x) for x in raw[T0:T0 + 3]]
            if all(t + DEMAND_WINDOWS_S[1] <= now for t in times):
                continue
            key = (rid, cell, vt)
            rec = [rid, cell, vt, *times, NO_KIND, NO_KIND]
            for j, w in enumerate(DEMAND_WINDOWS_S):
                best = best_kind(times, now, w, self.rank)
                rec[BEST0 + j] = best
                if best != NO_KIND:
                    self.table.add(cell, vt, demand_slot(j, best))
                entries.extend((t, j, k, key) for k, t in enumerate(times) if t + w > now)
            self.records[key] = rec
        for t, j, k, key in sorted(entries, key=lambda e: e[0]):
            self.orders[j][k].touch(key, t)

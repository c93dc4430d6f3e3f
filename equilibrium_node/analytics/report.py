"""Zone efficiency and zone history from the rollup (pure): the figures behind the analytics API.

Per zone over a window (all vehicle types together unless one is asked for):

- ``avg_multiplier``: mean of the snapshots' mean multipliers (one sample per active zone and
  vehicle type and snapshot), ``max_multiplier``: the highest served multiplier seen;
- ``surge_events`` / ``decrease_events``: audit records of the zone's cells whose served multiplier
  rose / fell;
- ``conversion`` = accepts / quotes (None without quotes);
- **inefficiency** = ``(avg_multiplier - 1) x (1 - min(conversion, 1))``: the surcharge riders were
  shown, weighted by the share of quotes that did not book. 0 for a zone that never surged, up to
  ``avg_multiplier - 1`` for one where nobody booked; None without quotes (nothing to judge). A
  conversion above 1 (an accept in a later hour than its quote) counts as 1.

Windows are whole hours: from the start of the hour containing ``now - window`` to now, the
current hour included (the SQL examples in ``sql/`` use the same bounds, so both agree).
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import numpy as np

from .durations import rfc3339_s
from .rollup import (
    ACCEPTS,
    DEMAND_SUM,
    FALLS,
    HOUR_S,
    MULT_MAX,
    MULT_SUM,
    QUOTES,
    RISES,
    SNAPSHOTS,
    SUPPLY_SUM,
    ZoneRollup,
    combine,
)


class ZoneFigures(msgspec.Struct, frozen=True):
    """One zone over a window."""

    zone_id: str
    zone_name: str
    snapshots: int
    avg_multiplier: float | None
    max_multiplier: float | None
    avg_supply: float | None
    avg_demand: float | None
    surge_events: int
    decrease_events: int
    quotes: int
    accepts: int
    conversion: float | None
    inefficiency: float | None


class HistoryPoint(msgspec.Struct, frozen=True):
    """One step of a zone's history (``ts`` = start of the step, RFC 3339 UTC)."""

    ts: str
    snapshots: int
    avg_multiplier: float | None
    max_multiplier: float | None
    avg_supply: float | None
    avg_demand: float | None
    quotes: int
    accepts: int
    conversion: float | None
    surge_events: int
    decrease_events: int


def inefficiency(avg_multiplier: float | None, conversion: float | None) -> float | None:
    """``(avg_multiplier - 1) * (1 - min(conversion, 1))``; None when either is unknown."""
    if avg_multiplier is None or conversion is None:
        return None
    return (avg_multiplier - 1.0) * (1.0 - min(conversion, 1.0))


def window_start(now: float, window_s: float) -> float:
    """Start of the hour that contains ``now - window_s``."""
    return (now - window_s) // HOUR_S * HOUR_S


def _figures(v: np.ndarray) -> dict:
    n, quotes = float(v[SNAPSHOTS]), float(v[QUOTES])
    avg = v[MULT_SUM] / n if n else None
    conversion = v[ACCEPTS] / quotes if quotes else None
    return {"snapshots": int(n), "avg_multiplier": float(avg) if avg is not None else None,
            "max_multiplier": float(v[MULT_MAX]) if n else None,
            "avg_supply": float(v[SUPPLY_SUM] / n) if n else None,
            "avg_demand": float(v[DEMAND_SUM] / n) if n else None,
            "surge_events": int(v[RISES]), "decrease_events": int(v[FALLS]), "quotes": int(quotes),
            "accepts": int(v[ACCEPTS]), "conversion": float(conversion) if conversion is not None else None}


def zone_table(rollup: ZoneRollup, since: float, until: float, *, vehicle_type: str | None = None,
               zone_name: Callable[[str], str] = str) -> list[ZoneFigures]:
    """Figures of every zone with any record between ``since`` and ``until`` (unsorted)."""
    rollup.flush()
    ring = rollup.hourly
    rows = rollup.rows(vehicle_type=vehicle_type)
    if not rows:
        return []
    sums = combine(ring.window(rows, ring.bucket_of(since), ring.bucket_of(until)), axis=1)
    by_zone: dict[str, list[np.ndarray]] = {}
    for row, v in zip(rows, sums, strict=True):
        by_zone.setdefault(rollup.key_list[row][0], []).append(v)
    out = []
    for zone_id, parts in by_zone.items():
        v = combine(np.stack(parts), axis=0)
        if not (v[SNAPSHOTS] or v[RISES] or v[FALLS] or v[QUOTES] or v[ACCEPTS]):
            continue
        f = _figures(v)
        out.append(ZoneFigures(zone_id=zone_id, zone_name=zone_name(zone_id),
                               inefficiency=inefficiency(f["avg_multiplier"], f["conversion"]), **f))
    return out


#: order name -> (field, descending); missing values (None) always sort last, ties by zone id.
ORDERS: dict[str, tuple[str, bool]] = {
    "inefficiency": ("inefficiency", True),
    "avg_multiplier": ("avg_multiplier", True),
    "max_multiplier": ("max_multiplier", True),
    "surge_events": ("surge_events", True),
    "decrease_events": ("decrease_events", True),
    "conversion": ("conversion", False),
    "quotes": ("quotes", True),
    "zone_id": ("zone_id", False),
}


def ordered(rows: list[ZoneFigures], order: str) -> list[ZoneFigures]:
    """``rows`` sorted by one of :data:`ORDERS` (worst first for the efficiency figures)."""
    name, descending = ORDERS[order]
    if name == "zone_id":
        return sorted(rows, key=lambda r: r.zone_id)

    def key(r: ZoneFigures):
        value = getattr(r, name)
        return (value is None, 0.0 if value is None else (-value if descending else value), r.zone_id)

    return sorted(rows, key=key)


def zone_history(rollup: ZoneRollup, zone_id: str, start: float, end: float, step_s: int, *,
                 vehicle_type: str | None = None) -> list[HistoryPoint]:
    """Points every ``step_s`` from the step containing ``start`` to the one containing ``end``.

    Steps that are whole hours read the hourly ring; others (multiples of 5 minutes) the detail ring.
    """
    rollup.flush()
    ring = rollup.hourly if step_s % HOUR_S == 0 else rollup.detail
    per = step_s // ring.bucket_s
    first_point = int(start // step_s) * step_s
    points = int(end // step_s) - int(start // step_s) + 1
    first = ring.bucket_of(first_point)
    rows = rollup.rows(zone_id, vehicle_type)
    block = ring.window(rows, first, first + points * per - 1)
    series = combine(block, axis=0) if len(rows) else np.zeros((points * per, block.shape[2]))
    steps = combine(series.reshape(points, per, -1), axis=1)
    out = []
    for i, v in enumerate(steps):
        f = _figures(v)
        out.append(HistoryPoint(ts=rfc3339_s(first_point + i * step_s), **f))
    return out


__all__ = ["ORDERS", "HistoryPoint", "ZoneFigures", "inefficiency", "ordered", "window_start", "zone_history",
           "zone_table"]

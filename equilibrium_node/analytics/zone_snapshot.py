"""What one snapshot says about every active zone and vehicle type (pure; the publisher does the I/O).

Per (zone, vehicle type):

- ``supply`` / ``on_trip``: drivers counted by the market state in the zone's cells;
- ``demand``: weighted riders of the last minute in those cells (the pricing input, ``demand_1m``);
- ``cells``, ``mean_multiplier``, ``max_multiplier``: over the zone's cells that have a served
  multiplier (an entry in KV ``eq_<region>_surge``, what every node serves); 1.0 when it has none;
- ``quotes`` / ``accepts``: the quote funnel's counts since the previous snapshot.

A zone and vehicle type is *active*, and gets a record, when it has any driver or demand, any
quote or accept, or a served multiplier above 1.0. A quiet zone at 1.0 gets none: its history
simply has no sample for that instant.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from ..market.view import MarketView
from ..messages import SurgeUpdate, ZoneSnapshot

Key = tuple[str, str]


def market_by_zone(market: MarketView, vehicle_types: Iterable[str],
                   zone_of_cell: Callable[[str], str]) -> dict[Key, list[float]]:
    """``{(zone, vt): [supply, on_trip, demand_1m]}`` summed over the market's active cells."""
    cells = list(market.active_cells())
    zones = [zone_of_cell(c) for c in cells]
    out: dict[Key, list[float]] = {}
    for vt in vehicle_types:
        arrays = market.cell_arrays(cells, vt)
        rows = zip(zones, arrays.supply.tolist(), arrays.on_trip.tolist(), arrays.demand_1m.tolist(), strict=True)
        for zone_id, supply, on_trip, demand in rows:
            if supply or on_trip or demand:
                acc = out.get((zone_id, vt))
                if acc is None:
                    acc = out[(zone_id, vt)] = [0.0, 0.0, 0.0]
                acc[0] += supply
                acc[1] += on_trip
                acc[2] += demand
    return out


def multipliers_by_zone(updates: Iterable[SurgeUpdate]) -> dict[Key, list[float]]:
    """``{(zone, vt): [cells, sum, max]}`` of the served multipliers."""
    out: dict[Key, list[float]] = {}
    for u in updates:
        acc = out.get((u.zone_id, u.vehicle_type))
        if acc is None:
            out[(u.zone_id, u.vehicle_type)] = [1, u.multiplier, u.multiplier]
        else:
            acc[0] += 1
            acc[1] += u.multiplier
            if u.multiplier > acc[2]:
                acc[2] = u.multiplier
    return out


def zone_records(ts: float, interval_s: float, seq: int, market: Mapping[Key, list[float]],
                 multipliers: Mapping[Key, list[float]],
                 funnel: Mapping[Key, tuple[int, int]]) -> list[ZoneSnapshot]:
    """The records of the active zones and vehicle types, sorted by key."""
    out = []
    for key in sorted({*market, *funnel, *(k for k, (_n, _s, top) in multipliers.items() if top > 1.0)}):
        supply, on_trip, demand = market.get(key, (0.0, 0.0, 0.0))
        cells, total, top = multipliers.get(key, (0, 0.0, 1.0))
        quotes, accepts = funnel.get(key, (0, 0))
        mean = round(total / cells, 4) if cells else 1.0
        out.append(ZoneSnapshot(key[0], key[1], ts, interval_s, int(supply), int(on_trip), round(demand, 3),
                                int(cells), mean, round(top, 4) if cells else 1.0, quotes, accepts, seq))
    return out


__all__ = ["market_by_zone", "multipliers_by_zone", "zone_records"]

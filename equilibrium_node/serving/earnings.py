"""Where should a driver go: zones near the driver ranked by expected earnings per hour. Pure functions.

``expected earnings/h = served multiplier × driver.base_hourly_earnings × expected utilisation``.

**Expected utilisation** (the share of the next hour the driver would spend on paid trips) is
estimated from the zone's pricing inputs near the driver: ``demand / (supply + 1)``, the riders
waiting per driver once this driver has arrived (the ``+ 1``), clamped to
[``UTILISATION_MIN``, ``UTILISATION_MAX``]. The floor stands for dispatches from neighbouring zones
that every driver gets even where nobody is waiting; the ceiling for the time between trips
(pick-up, repositioning) that no amount of demand removes.

Only the zone's served cells within the radius count (a zone half inside the radius is judged on
that half); a zone with no priced cell in reach but its centre in reach is listed at multiplier 1.0
with the floor utilisation. The distance is to the nearest such cell centre (or the zone centre),
and 0 for the zone the driver is in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import NamedTuple

from ..geo import cells
from ..messages import SurgeUpdate
from .zone_summary import ZoneAggregate

UTILISATION_MIN = 0.25
UTILISATION_MAX = 0.95
MAX_RECOMMENDATIONS = 20


class Recommendation(NamedTuple):
    """One ranked zone."""

    zone_id: str
    distance_m: float
    multiplier: float
    earnings_per_hour: float
    trend: str
    utilisation: float


def expected_utilisation(supply: float, demand: float) -> float:
    """Share of an hour spent on paid trips, from riders per driver (see the module doc)."""
    return min(UTILISATION_MAX, max(UTILISATION_MIN, demand / (max(supply, 0.0) + 1.0)))


def earnings_per_hour(multiplier: float, base_hourly: float, utilisation: float) -> float:
    """Expected earnings per hour, rounded to the cent."""
    return round(multiplier * base_hourly * utilisation, 2)


def rank_zones(lat: float, lng: float, driver_zone: str, radius_m: float, updates: Iterable[SurgeUpdate],
               serve: Callable[[float], float], zone_centres: Mapping[str, tuple[float, float]],
               base_hourly: float, limit: int = MAX_RECOMMENDATIONS) -> list[Recommendation]:
    """Zones within ``radius_m`` of (lat, lng), best expected earnings first (then nearest)."""
    near: dict[str, ZoneAggregate] = {}
    distance: dict[str, float] = {}
    for update in updates:
        c_lat, c_lng = cells.center(update.cell)
        d = cells.distance_m(lat, lng, c_lat, c_lng)
        if d > radius_m:
            continue
        agg = near.get(update.zone_id)
        if agg is None:
            agg = near[update.zone_id] = ZoneAggregate(update.zone_id)
            distance[update.zone_id] = d
        agg.add(update, serve(update.multiplier))
        distance[update.zone_id] = min(distance[update.zone_id], d)
    for zone_id, (z_lat, z_lng) in zone_centres.items():
        if zone_id in near:
            continue
        d = cells.distance_m(lat, lng, z_lat, z_lng)
        if d <= radius_m or zone_id == driver_zone:
            near[zone_id] = ZoneAggregate(zone_id)
            distance[zone_id] = d
    out = []
    for zone_id, agg in near.items():
        util = expected_utilisation(agg.supply, agg.demand)
        out.append(Recommendation(zone_id, 0.0 if zone_id == driver_zone else round(distance[zone_id], 1),
                                  agg.multiplier, earnings_per_hour(agg.multiplier, base_hourly, util), agg.trend,
                                  round(util, 3)))
    out.sort(key=lambda r: (-r.earnings_per_hour, r.distance_m, r.zone_id))
    return out[:limit]


__all__ = ["MAX_RECOMMENDATIONS", "UTILISATION_MAX", "UTILISATION_MIN", "Recommendation", "earnings_per_hour",
           "expected_utilisation", "rank_zones"]

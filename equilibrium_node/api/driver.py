"""``GET /api/v1/driver/heatmap``: zones near a driver ranked by expected earnings per hour.

Starts from the driver's last ping as the market state holds it (:meth:`MarketView.driver`), or from
a point (``lat``, ``lng`` and ``vehicle_type``, for a driver app before its first ping or the page's
driver view), takes the served multipliers of that vehicle type within ``radius`` metres
(degraded-mode policy applied) and ranks zones with :func:`..serving.earnings.rank_zones` (the
utilisation estimate is documented there).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import msgspec
from aiohttp import web

from ..errors import ApiError, Code
from ..geo.point_cell import point_token
from ..live_config import ConfigSnapshot
from ..market.view import MarketView
from ..serving.degraded import Freshness, served_multiplier
from ..serving.earnings import MAX_RECOMMENDATIONS, rank_zones
from ..serving.heatmap import LatLng
from ..serving.surge_view import SurgeView
from ..serving.zone_summary import ZoneCentres
from ..settings import DriverSettings
from .endpoint import ApiPart, Endpoint, Param, json_response, query_float
from .errors import ErrorBody
from .heatmap import vehicle_type_param

MAX_RADIUS_M = 50_000.0
MIN_RADIUS_M = 100.0


class RecommendedZone(msgspec.Struct, frozen=True):
    """A zone worth driving to."""

    zone_id: str
    zone_name: str
    distance_meters: float
    surge_multiplier: float
    estimated_earnings_per_hour: float
    demand_trend: str
    expected_utilisation: Annotated[float, msgspec.Meta(description="Share of an hour on paid trips (estimate).")]


class DriverHeatmapResponse(msgspec.Struct, frozen=True):
    """Body of ``GET /api/v1/driver/heatmap``."""

    recommended_zones: Annotated[list[RecommendedZone], msgspec.Meta(max_length=MAX_RECOMMENDATIONS)]
    current_location: LatLng
    vehicle_type: str
    radius_meters: float
    degraded: bool


class DriverApi(ApiPart):
    """Recommendations for one driver."""

    def __init__(self, config: Callable[[], ConfigSnapshot], surge: SurgeView, freshness: Callable[[], Freshness],
                 settings: DriverSettings, market: MarketView | None = None,
                 centres: ZoneCentres | None = None, cell_level: int = 13) -> None:
        self.config = config
        self.surge = surge
        self.freshness = freshness
        self.settings = settings
        self.market = market
        self.centres = centres or ZoneCentres()
        self.cell_level = cell_level

    def _driver(self, driver_id: str) -> tuple[float, float, str, str]:
        """(lat, lng, vehicle type, cell) of a driver's last ping; 404/503 when unknown or unavailable."""
        if not driver_id or len(driver_id) > 64:
            raise ApiError("driver_id must be 1 to 64 characters", field="driver_id")
        if self.market is None:
            raise ApiError("the market state is not available on this node", code=Code.UNAVAILABLE, status=503)
        info = self.market.driver(driver_id)
        if info is None:
            raise ApiError(f"no recent ping from driver {driver_id!r}", code=Code.NOT_FOUND, field="driver_id",
                           status=404)
        return info.lat, info.lng, info.vehicle_type, info.cell

    async def heatmap(self, request: web.Request) -> web.Response:
        """Zones within the radius of the driver's last ping, best expected earnings first."""
        radius = query_float(request, "radius", required=False, default=self.settings.default_radius_m,
                             lo=MIN_RADIUS_M, hi=MAX_RADIUS_M)
        snap = self.config()
        if "driver_id" in request.query:
            lat, lng, vt, cell = self._driver(request.query["driver_id"])
        elif "lat" in request.query or "lng" in request.query:
            lat = query_float(request, "lat", lo=-90.0, hi=90.0)
            lng = query_float(request, "lng", lo=-180.0, hi=180.0)
            vt = vehicle_type_param(request, snap)
            cell = point_token(lat, lng, self.cell_level)
        else:
            raise ApiError("driver_id is required (1 to 64 characters), or lat and lng of a point", field="driver_id")
        fresh = self.freshness()
        rules = snap.rules
        updates = [e.update for e in list(self.surge.entries.values()) if e.update.vehicle_type == vt]
        ranked = rank_zones(lat, lng, snap.zone_index.zone_of_cell(cell) if cell else "",
                            radius, updates, lambda m: served_multiplier(m, fresh, rules), self.centres.of(snap),
                            self.settings.base_hourly_earnings)
        zones = [RecommendedZone(zone_id=r.zone_id, zone_name=snap.zone_index.zone_name(r.zone_id),
                                 distance_meters=r.distance_m, surge_multiplier=r.multiplier,
                                 estimated_earnings_per_hour=r.earnings_per_hour, demand_trend=r.trend,
                                 expected_utilisation=r.utilisation) for r in ranked]
        return json_response(DriverHeatmapResponse(recommended_zones=zones,
                                                   current_location=LatLng(lat, lng), vehicle_type=vt,
                                                   radius_meters=radius, degraded=fresh.degraded))

    def endpoints(self) -> list[Endpoint]:
        """``GET /api/v1/driver/heatmap``."""
        return [Endpoint(
            "GET", "/api/v1/driver/heatmap", self.heatmap, "Where to go: nearby zones by expected earnings.",
            tags=("heatmap",),
            params=[Param("driver_id", "query", {"type": "string", "minLength": 1, "maxLength": 64},
                          description="A driver: start from their last ping (their position and vehicle type). "
                          "Without it, `lat` and `lng` are required."),
                    Param("lat", "query", {"type": "number", "minimum": -90, "maximum": 90},
                          description="Without `driver_id`: latitude of the point to start from."),
                    Param("lng", "query", {"type": "number", "minimum": -180, "maximum": 180},
                          description="Without `driver_id`: longitude of the point to start from."),
                    Param("vehicle_type", "query", {"type": "string", "maxLength": 64},
                          description="Without `driver_id`: the vehicle type (default: the first of the fare "
                          "table)."),
                    Param("radius", "query", {"type": "number", "minimum": MIN_RADIUS_M, "maximum": MAX_RADIUS_M},
                          description="Metres (default driver.default_radius_m).")],
            responses={200: (DriverHeatmapResponse, "Ranked zones."),
                       400: (ErrorBody, "Neither driver_id nor lat/lng, a bad number, an unknown vehicle type."),
                       404: (ErrorBody, "No recent ping from this driver."),
                       503: (ErrorBody, "The market state is not available on this node.")})]


__all__ = ["DriverApi", "DriverHeatmapResponse", "RecommendedZone"]

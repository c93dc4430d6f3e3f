"""``GET /api/v1/pricing/explain?lat=&lng=&vehicle_type=``: the whole derivation of the multiplier at a point.

See :mod:`equilibrium_node.pricing.explain` for what the answer holds. ``vehicle_type`` defaults to
the first of the region's fare table. Bad input is a 400 naming the field: ``lat``/``lng`` missing,
not numbers or out of range; an unknown ``vehicle_type`` (code ``unknown_vehicle_type``).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..errors import ApiError, Code
from ..market.view import MarketView
from ..pricing.core import PricingCore
from ..pricing.explain import Explanation, explain
from .endpoint import ApiPart, Endpoint, Param, json_response, query_float


class ExplainApi(ApiPart):
    """The pricing explain endpoint."""

    def __init__(self, core: PricingCore, market: MarketView, config_store: Any, surge_view: Any,
                 cell_level: int) -> None:
        self.core = core
        self.market = market
        self.config_store = config_store
        self.surge_view = surge_view
        self.cell_level = cell_level

    async def get_explain(self, request: web.Request) -> web.Response:
        """The derivation at a point."""
        lat = query_float(request, "lat", lo=-90.0, hi=90.0)
        lng = query_float(request, "lng", lo=-180.0, hi=180.0)
        config = self.config_store.current
        vehicle_type = request.query.get("vehicle_type") or (config.vehicle_types[0] if config.vehicle_types else "")
        if vehicle_type not in config.fares:
            raise ApiError(f"unknown vehicle_type {vehicle_type[:64]!r}; known: {', '.join(config.vehicle_types)}",
                           code=Code.UNKNOWN_VEHICLE_TYPE, field="vehicle_type")
        served = self.surge_view.get if self.surge_view is not None else None
        result = explain(self.core, self.market, config, lat, lng, vehicle_type, self.cell_level, served)
        return json_response(result)

    def endpoints(self) -> list[Endpoint]:
        """``GET /api/v1/pricing/explain``."""
        return [Endpoint(
            "GET", "/api/v1/pricing/explain", self.get_explain,
            "The whole derivation of the multiplier at a point: raw and smoothed inputs, algorithm output, "
            "every guardrail with its value before and after, shadow algorithms.",
            tags=("pricing",),
            params=(Param("lat", "query", {"type": "number", "minimum": -90, "maximum": 90}, True, "Latitude."),
                    Param("lng", "query", {"type": "number", "minimum": -180, "maximum": 180}, True, "Longitude."),
                    Param("vehicle_type", "query", {"type": "string"}, False,
                          "Vehicle type of the fare table (default: the first).")),
            responses={200: (Explanation, "The derivation.")},
        )]


__all__ = ["ExplainApi"]

"""``GET /api/v1/pricing/heatmap``: served multipliers of a viewport as coloured cells and zone summaries.

Cells come from the surge mirror through :mod:`..serving.heatmap` (zoom → S2 level, parents aggregate
their children, the documented colour scale) after the degraded-mode policy, so the map shows what a
quote would charge. A viewport that would hold more than 5000 cells at the drawn level is refused
(400, field ``bounds``) before any work; the answer never carries more than 5000 cells.

``zones[]`` lists every zone with a served cell in the viewport or its centre in it, summarised over
*all* its served cells (:mod:`..serving.zone_summary`), so a zone's figures do not change as the map
pans; ``total_zones`` is the length of that list.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import msgspec
from aiohttp import web

from ..errors import ApiError, Code
from ..geo import cells
from ..live_config import ConfigSnapshot
from ..messages import SurgeUpdate
from ..serving.degraded import Freshness, served_multiplier
from ..serving.heatmap import MAX_HEATMAP_CELLS, HeatCell, LatLng, color_for, in_bounds, level_for_zoom, viewport_cells
from ..serving.surge_view import SurgeView
from ..serving.zone_summary import ZoneCentres, aggregate_zones
from .endpoint import ApiPart, Endpoint, Param, json_response, parse_bounds, query_int
from .errors import ErrorBody

MAX_ZOOM = 22
_NUM = r"-?[0-9]{1,3}(\.[0-9]{1,8})?"
_BOUNDS_PATTERN = f"^{_NUM},{_NUM},{_NUM},{_NUM}$"


class HeatZone(msgspec.Struct, frozen=True):
    """A zone on the heatmap."""

    zone_id: str
    zone_name: str
    center: LatLng
    surge_multiplier: float
    demand_level: str
    supply_count: float
    demand_count: float
    color: str


class HeatmapResponse(msgspec.Struct, frozen=True):
    """Body of ``GET /api/v1/pricing/heatmap``."""

    zones: list[HeatZone]
    cells: Annotated[list[HeatCell], msgspec.Meta(max_length=MAX_HEATMAP_CELLS)]
    last_updated: Annotated[str | None, msgspec.Meta(description="Newest updated_at of the served cells (RFC 3339).")]
    total_zones: int
    vehicle_type: str
    level: Annotated[int, msgspec.Meta(description="S2 level of the cells drawn at this zoom.")]
    degraded: bool


def vehicle_type_param(request: web.Request, snap: ConfigSnapshot, name: str = "vehicle_type") -> str:
    """The ``vehicle_type`` query parameter (default: the first of the fare table); 400 if unknown."""
    vt = request.query.get(name) or (snap.vehicle_types[0] if snap.vehicle_types else "")
    if vt not in snap.fares:
        raise ApiError(f"unknown vehicle type {vt[:64]!r}; known: {', '.join(snap.fares)}",
                       code=Code.UNKNOWN_VEHICLE_TYPE, field=name)
    return vt


class HeatmapApi(ApiPart):
    """The riders' and ops' heatmap of served prices."""

    def __init__(self, cell_level: int, config: Callable[[], ConfigSnapshot], surge: SurgeView,
                 freshness: Callable[[], Freshness], centres: ZoneCentres | None = None) -> None:
        self.cell_level = cell_level
        self.config = config
        self.surge = surge
        self.freshness = freshness
        self.centres = centres or ZoneCentres()

    async def heatmap(self, request: web.Request) -> web.Response:
        """Cells and zones of a viewport for one vehicle type."""
        bounds = parse_bounds(request.query.get("bounds"))
        zoom = query_int(request, "zoom", lo=0, hi=MAX_ZOOM)
        snap = self.config()
        vt = vehicle_type_param(request, snap)
        level = level_for_zoom(zoom, self.cell_level)
        if cells.estimate_cells(*bounds, level) > MAX_HEATMAP_CELLS:
            raise ApiError(f"bounds too large for zoom {zoom}: more than {MAX_HEATMAP_CELLS} cells; zoom out or "
                           "shrink the box", code=Code.OUT_OF_RANGE, field="bounds")
        fresh = self.freshness()
        rules = snap.rules

        def serve(m: float) -> float:
            return served_multiplier(m, fresh, rules)

        served: list[SurgeUpdate] = []
        last = None
        for entry in list(self.surge.entries.values()):
            u = entry.update
            if u.vehicle_type != vt:
                continue
            m = serve(u.multiplier)
            served.append(u if m == u.multiplier else msgspec.structs.replace(u, multiplier=m))
            if last is None or u.updated_at > last:
                last = u.updated_at
        heat = viewport_cells(served, bounds, zoom, self.cell_level)
        if heat is None:
            raise ApiError(f"more than {MAX_HEATMAP_CELLS} cells in view; zoom out or shrink the box",
                           code=Code.OUT_OF_RANGE, field="bounds")
        zones_agg = aggregate_zones(served, float)
        centres = self.centres.of(snap)
        visible = {u.zone_id for u in served if in_bounds(*cells.center(u.cell), bounds)}
        visible.update(z for z, c in centres.items() if in_bounds(*c, bounds))
        zones = []
        for zone_id in sorted(visible):
            agg = zones_agg.get(zone_id)
            centre = centres.get(zone_id)
            if centre is None:  # the default zone: the mean of its served cells
                pts = [cells.center(c) for c in agg.cells] if agg else []
                if not pts:
                    continue
                centre = (sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts))
            m = agg.multiplier if agg else 1.0
            zones.append(HeatZone(zone_id=zone_id, zone_name=snap.zone_index.zone_name(zone_id),
                                  center=LatLng(round(centre[0], 6), round(centre[1], 6)), surge_multiplier=m,
                                  demand_level=agg.demand_level if agg else "low",
                                  supply_count=agg.supply if agg else 0.0, demand_count=agg.demand if agg else 0.0,
                                  color=color_for(m)))
        return json_response(HeatmapResponse(zones=zones, cells=heat, last_updated=last, total_zones=len(zones),
                                             vehicle_type=vt, level=level, degraded=fresh.degraded))

    def endpoints(self) -> list[Endpoint]:
        """``GET /api/v1/pricing/heatmap``."""
        return [Endpoint(
            "GET", "/api/v1/pricing/heatmap", self.heatmap, "Served multipliers of a viewport.", tags=("heatmap",),
            params=[
                Param("bounds", "query", {"type": "string", "pattern": _BOUNDS_PATTERN}, required=True,
                      description="lat1,lng1,lat2,lng2: south-west corner first."),
                Param("zoom", "query", {"type": "integer", "minimum": 0, "maximum": MAX_ZOOM}, required=True,
                      description="Web-map zoom; cells get coarser as it drops."),
                Param("vehicle_type", "query", {"type": "string", "maxLength": 64},
                      description="Default: the first vehicle type of the fare table."),
            ],
            responses={200: (HeatmapResponse, "Cells (at most 5000) and zones."),
                       400: (ErrorBody, "Bad, inverted or too large bounds, bad zoom, unknown vehicle type.")})]


__all__ = ["HeatZone", "HeatmapApi", "HeatmapResponse", "vehicle_type_param"]

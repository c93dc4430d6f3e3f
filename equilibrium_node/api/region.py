"""``GET /api/v1/region``: what a map of the region needs before its first heatmap (public, cacheable briefly).

The live heatmap page starts here: the region's name and vehicle types (its selector), the zones with
their outlines, centres and multiplier ranges (drawn as dashed outlines, used for the hover card and
the driver view), the land outline drawn when no map tiles load, the first view, the tile server, and
the colour scale of the heatmap (its legend), so that a client never hard-codes any of them. Zones
come from the live config, so a zone added through the admin API appears on the next call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import msgspec
from aiohttp import web

from ..live_config import ConfigSnapshot
from ..serving.heatmap import COLOR_SCALE, LatLng
from ..serving.zone_summary import ZoneCentres
from ..settings import MapSettings, Polygon
from .endpoint import ApiPart, Endpoint


class RegionZone(msgspec.Struct, frozen=True):
    """A zone as a map draws it."""

    zone_id: str
    zone_name: str
    geometry: Polygon
    center: LatLng
    min_multiplier: float
    max_multiplier: float
    algorithm: str


class ColorStep(msgspec.Struct, frozen=True):
    """One step of the colour scale: multipliers from ``min_multiplier`` (up to the next step) get ``color``."""

    min_multiplier: float
    color: str


class Tiles(msgspec.Struct, frozen=True):
    """An online base map (``{z}/{x}/{y}`` URL template); drawn only when reachable."""

    url: str
    attribution: str


class RegionInfo(msgspec.Struct, frozen=True):
    """Body of ``GET /api/v1/region``."""

    region: str
    region_name: str
    timezone: str
    currency: str
    cell_level: int
    vehicle_types: list[str]
    default_zone_id: Annotated[str, msgspec.Meta(description="Zone of the cells in no configured zone.")]
    zones: list[RegionZone]
    outline: Annotated[list[list[list[float]]], msgspec.Meta(
        description="Land outline: rings of [lng, lat] (GeoJSON order); empty when not configured.")]
    view: Annotated[list[float], msgspec.Meta(description="First view lat1,lng1,lat2,lng2, south-west first.")]
    tiles: Tiles | None
    color_scale: Annotated[list[ColorStep], msgspec.Meta(description="Ascending steps of the heatmap colours.")]


class RegionApi(ApiPart):
    """The region's map metadata."""

    def __init__(self, region: str, region_name: str, timezone: str, currency: str, cell_level: int,
                 map_settings: MapSettings, config: Callable[[], ConfigSnapshot],
                 centres: ZoneCentres | None = None) -> None:
        self.static = dict(region=region, region_name=region_name, timezone=timezone, currency=currency,
                           cell_level=cell_level)
        self.map = map_settings
        self.config = config
        self.centres = centres or ZoneCentres()
        self._cache: tuple[object, bytes] | None = None

    def info(self) -> RegionInfo:
        """The document for the current live config."""
        snap = self.config()
        centres = self.centres.of(snap)
        zones = [RegionZone(zone_id=z.id, zone_name=z.name, geometry=z.geometry,
                            center=LatLng(round(centres[z.id][0], 6), round(centres[z.id][1], 6)),
                            min_multiplier=z.min_multiplier, max_multiplier=z.max_multiplier, algorithm=z.algorithm)
                 for z in snap.zones.values()]
        if self.map.view:
            view = list(self.map.view)
        elif snap.zones:
            view = [round(v, 6) for v in snap.zone_index.region_bbox()]
        else:  # no zones and no view: the outline's box, else the whole world
            pts = [p for ring in self.map.outline for p in ring]
            view = ([min(p[1] for p in pts), min(p[0] for p in pts), max(p[1] for p in pts), max(p[0] for p in pts)]
                    if pts else [-60.0, -180.0, 75.0, 180.0])
        tiles = Tiles(self.map.tiles_url, self.map.tiles_attribution) if self.map.tiles_url else None
        scale = [ColorStep(bound, color) for bound, color in reversed(COLOR_SCALE)]
        return RegionInfo(**self.static, vehicle_types=list(snap.vehicle_types),
                          default_zone_id=snap.zone_index.default_zone_id, zones=zones, outline=self.map.outline,
                          view=view, tiles=tiles, color_scale=scale)

    async def region(self, _request: web.Request) -> web.Response:
        """The region's map metadata (encoded once per live-config snapshot)."""
        snap = self.config()
        if self._cache is None or self._cache[0] is not snap:
            self._cache = (snap, msgspec.json.encode(self.info()))
        return web.Response(body=self._cache[1], content_type="application/json",
                            headers={"Cache-Control": "max-age=10"})

    def endpoints(self) -> list[Endpoint]:
        """``GET /api/v1/region``."""
        return [Endpoint("GET", "/api/v1/region", self.region, "The region as a map draws it: zones, outline, "
                         "first view, tiles, vehicle types and the heatmap's colour scale.", tags=("heatmap",),
                         responses={200: (RegionInfo, "The region.")})]


__all__ = ["ColorStep", "RegionApi", "RegionInfo", "RegionZone", "Tiles"]

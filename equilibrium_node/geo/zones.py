"""Zones: GeoJSON polygons from config, and which zone a point or a cell belongs to.

A cell belongs to the zone that contains its centre; where zones overlap, the smallest one wins (a
stadium inside a district), which does not depend on the order zones are stored in. Cells in no
zone belong to ``<region>_default``. Point-in-polygon is the even-odd ray test over every ring, so holes work.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import cells

if TYPE_CHECKING:  # settings imports this module to validate geometries
    from ..settings import ZoneConfig

Ring = list[tuple[float, float]]  # (lng, lat) as in GeoJSON


def geometry_error(geometry_type: str, coordinates: object) -> str | None:
    """Why a GeoJSON Polygon/MultiPolygon is unusable, or None when it is fine."""
    polygons = [coordinates] if geometry_type == "Polygon" else coordinates
    if not isinstance(polygons, list) or not polygons:
        return "coordinates must be a non-empty list"
    for polygon in polygons:
        if not isinstance(polygon, list) or not polygon:
            return "a polygon must be a non-empty list of rings"
        for ring in polygon:
            if not isinstance(ring, list) or len(ring) < 4:
                return "a ring needs at least 4 positions"
            for pos in ring:
                if (not isinstance(pos, list | tuple) or len(pos) < 2
                        or not all(isinstance(v, int | float) and math.isfinite(v) for v in pos[:2])):
                    return "a position must be [lng, lat] numbers"
                if not (-180 <= pos[0] <= 180 and -90 <= pos[1] <= 90):
                    return f"position {list(pos[:2])} is out of range ([lng, lat])"
            if list(ring[0][:2]) != list(ring[-1][:2]):
                return "a ring must be closed (first position == last)"
    return None


def _polygons(zone: ZoneConfig) -> list[list[Ring]]:
    coords = zone.geometry.coordinates
    polys = [coords] if zone.geometry.type == "Polygon" else coords
    return [[[(float(p[0]), float(p[1])) for p in ring] for ring in poly] for poly in polys]


def _in_ring(lng: float, lat: float, ring: Ring) -> bool:
    inside = False
    j = len(ring) - 1
    for i in range(len(ring)):
        xi, yi = ring[i]
        xj, yj = ring[j]
        if (yi > lat) != (yj > lat) and lng < (xj - xi) * (lat - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def _ring_area(ring: Ring) -> float:
    return abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in itertools.pairwise(ring))) / 2


@dataclass(frozen=True, slots=True)
class _Shape:
    zone_id: str
    polygons: list[list[Ring]]
    bbox: tuple[float, float, float, float]  # min_lng, min_lat, max_lng, max_lat
    area: float  # in square degrees: only used to order overlapping zones

    def contains(self, lat: float, lng: float) -> bool:
        min_lng, min_lat, max_lng, max_lat = self.bbox
        if not (min_lng <= lng <= max_lng and min_lat <= lat <= max_lat):
            return False
        return any(sum(_in_ring(lng, lat, ring) for ring in poly) % 2 == 1 for poly in self.polygons)


class ZoneIndex:
    """Zone lookup for points and cells of one region at its pricing level."""

    def __init__(self, zones: Sequence[ZoneConfig], region: str, level: int) -> None:
        self.region = region
        self.level = level
        self.default_zone_id = f"{region}_default"
        self.zones = {z.id: z for z in zones}
        self._shapes = []
        for z in zones:
            polys = _polygons(z)
            pts = [p for poly in polys for ring in poly for p in ring]
            bbox = (min(p[0] for p in pts), min(p[1] for p in pts), max(p[0] for p in pts), max(p[1] for p in pts))
            area = sum(_ring_area(poly[0]) - sum(_ring_area(h) for h in poly[1:]) for poly in polys)
            self._shapes.append(_Shape(z.id, polys, bbox, area))
        self._shapes.sort(key=lambda shape: (shape.area, shape.zone_id))
        self._cell_zone: dict[str, str] = {}

    def zone_of_point(self, lat: float, lng: float) -> str:
        """Zone id containing the point (the default zone when none does)."""
        for shape in self._shapes:
            if shape.contains(lat, lng):
                return shape.zone_id
        return self.default_zone_id

    def zone_of_cell(self, token: str) -> str:
        """Zone id of a cell: the zone containing its centre (cached)."""
        zone = self._cell_zone.get(token)
        if zone is None:
            zone = self.zone_of_point(*cells.center(token))
            self._cell_zone[token] = zone
        return zone

    def zone_name(self, zone_id: str) -> str:
        """Display name of a zone."""
        zone = self.zones.get(zone_id)
        return zone.name if zone else "Rest of region"

    def bbox(self, zone_id: str) -> tuple[float, float, float, float]:
        """(min_lat, min_lng, max_lat, max_lng) of a zone."""
        for shape in self._shapes:
            if shape.zone_id == zone_id:
                min_lng, min_lat, max_lng, max_lat = shape.bbox
                return min_lat, min_lng, max_lat, max_lng
        raise KeyError(zone_id)

    def region_bbox(self, margin_deg: float = 0.01) -> tuple[float, float, float, float]:
        """(min_lat, min_lng, max_lat, max_lng) around every zone."""
        boxes = [s.bbox for s in self._shapes]
        if not boxes:
            raise ValueError("no zones")
        return (min(b[1] for b in boxes) - margin_deg, min(b[0] for b in boxes) - margin_deg,
                max(b[3] for b in boxes) + margin_deg, max(b[2] for b in boxes) + margin_deg)

    def cells_of_zone(self, zone_id: str, max_cells: int = 20_000) -> list[str]:
        """Cells at the pricing level whose centre lies in the zone."""
        lo_lat, lo_lng, hi_lat, hi_lng = self.bbox(zone_id)
        covering = cells.cover_rect(lo_lat, lo_lng, hi_lat, hi_lng, self.level, max_cells) or []
        return [c for c in covering if self.zone_of_cell(c) == zone_id]

    def center(self, zone_id: str) -> tuple[float, float]:
        """A representative point: the mean of the zone's cell centres (the bbox centre if it has none)."""
        members = self.cells_of_zone(zone_id)
        if not members:
            lo_lat, lo_lng, hi_lat, hi_lng = self.bbox(zone_id)
            return (lo_lat + hi_lat) / 2, (lo_lng + hi_lng) / 2
        pts = [cells.center(c) for c in members]
        return sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts)

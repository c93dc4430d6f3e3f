"""The simulated city: a box over the region's zones, its S2 cells at the pricing level, and a flat map.

Agents live on a local equirectangular projection in metres (``x`` east, ``y`` north of the box's
centre): distances at city scale are exact to well under a metre there, and every step stays in
numpy. Positions become S2 cells with the vectorised S2 of :mod:`equilibrium_node.geo.s2vec`, the
same cells the node prices.

- **Bounds**: the box around the region's zones that lie within :data:`CORE_RADIUS_M` of their median
  centre (for San Francisco: the city, not the airport 19 km south), plus a small margin. No
  coastline: a few cells at the edges are water and simply get fewer trips.
- **Where trips start and end**: every cell of the box has weight 1, a cell whose centre lies in a
  configured zone has ``zone_weight`` (the busy neighbourhoods an ops team draws zones around).
- **Road time**: straight-line distance x ``quote.detour_factor`` at ``quote.speed_kmh_by_hour`` of the
  local hour, the node's own quote estimate (:mod:`equilibrium_node.pricing.fares`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..errors import ConfigError
from ..geo import cells, s2vec
from ..geo.zones import ZoneIndex
from ..settings import Settings

EARTH_RADIUS_M = cells.EARTH_RADIUS_M
#: Zones farther than this from the zones' median centre are outside the simulated city (an airport).
CORE_RADIUS_M = 10_000.0
#: Margin around the zones, in degrees of latitude (about 550 m).
MARGIN_DEG = 0.005
#: Spacing of the sample grid that finds every cell of the box.
GRID_M = 50.0

Bounds = tuple[float, float, float, float]  # lat_lo, lng_lo, lat_hi, lng_hi


def core_bounds(zones: Sequence, region: str, level: int) -> Bounds:
    """The box around the region's core zones (see the module docstring)."""
    if not zones:
        raise ConfigError("the simulator needs at least one zone in the config to place its city", field="zones")
    index = ZoneIndex(list(zones), region, level)
    boxes = {z.id: index.bbox(z.id) for z in zones}
    centres = {k: ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2) for k, b in boxes.items()}
    mid_lat = float(np.median([c[0] for c in centres.values()]))
    mid_lng = float(np.median([c[1] for c in centres.values()]))
    near = [k for k, c in centres.items() if cells.distance_m(mid_lat, mid_lng, *c) <= CORE_RADIUS_M]
    near = near or list(boxes)
    lat_lo = min(boxes[k][0] for k in near) - MARGIN_DEG
    lng_lo = min(boxes[k][1] for k in near) - MARGIN_DEG
    lat_hi = max(boxes[k][2] for k in near) + MARGIN_DEG
    lng_hi = max(boxes[k][3] for k in near) + MARGIN_DEG
    return lat_lo, lng_lo, lat_hi, lng_hi


class City:
    """Cells, weights, projection and road speeds of the simulated city."""

    def __init__(self, settings: Settings, zone_weight: float, bounds: Bounds | None = None) -> None:
        self.level = settings.cell_level
        self.bounds = bounds or core_bounds(settings.zones, settings.region, self.level)
        lat_lo, lng_lo, lat_hi, lng_hi = self.bounds
        self.lat0, self.lng0 = (lat_lo + lat_hi) / 2, (lng_lo + lng_hi) / 2
        self.ky = EARTH_RADIUS_M * math.pi / 180.0  # metres per degree of latitude
        self.kx = self.ky * math.cos(math.radians(self.lat0))
        self.x_lo, self.y_lo = self.to_xy(np.array([lat_lo]), np.array([lng_lo]))
        self.x_hi, self.y_hi = self.to_xy(np.array([lat_hi]), np.array([lng_hi]))
        self.x_lo, self.y_lo, self.x_hi, self.y_hi = (float(v[0]) for v in (self.x_lo, self.y_lo, self.x_hi,
                                                                             self.y_hi))
        lat = np.linspace(lat_lo, lat_hi, max(2, int((self.y_hi - self.y_lo) / GRID_M) + 1))
        lng = np.linspace(lng_lo, lng_hi, max(2, int((self.x_hi - self.x_lo) / GRID_M) + 1))
        self.ids = np.unique(s2vec.cell_ids(np.repeat(lat, len(lng)), np.tile(lng, len(lat)), self.level))
        self.tokens = s2vec.to_tokens(self.ids)
        self.index = {t: i for i, t in enumerate(self.tokens)}
        centres = np.array([cells.center(t) for t in self.tokens])
        self.cx, self.cy = self.to_xy(centres[:, 0], centres[:, 1])
        zones = ZoneIndex(list(settings.zones), settings.region, self.level)
        self.zone_ids = [zones.zone_of_cell(t) for t in self.tokens]
        self.in_zone = np.array([z != zones.default_zone_id for z in self.zone_ids])
        self.weight = np.where(self.in_zone, zone_weight, 1.0)
        area_m2 = 4 * math.pi * EARTH_RADIUS_M**2 / (6 * 4**self.level)
        self.cell_side_m = math.sqrt(area_m2)
        self.detour = settings.quote.detour_factor
        self.speed_kmh_by_hour = list(settings.quote.speed_kmh_by_hour)

    def __len__(self) -> int:
        return len(self.tokens)

    # projection ------------------------------------------------------------------------------------
    def to_xy(self, lat: np.ndarray, lng: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Degrees to local metres."""
        return (np.asarray(lng) - self.lng0) * self.kx, (np.asarray(lat) - self.lat0) * self.ky

    def to_latlng(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Local metres to degrees (lat, lng)."""
        return self.lat0 + np.asarray(y) / self.ky, self.lng0 + np.asarray(x) / self.kx

    def clip(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Points kept inside the box."""
        return np.clip(x, self.x_lo, self.x_hi), np.clip(y, self.y_lo, self.y_hi)

    # cells -----------------------------------------------------------------------------------------
    def cell_of(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Index (into :attr:`tokens`) of the S2 cell holding each point (vectorised S2)."""
        if len(x) == 0:
            return np.zeros(0, dtype=np.int64)
        lat, lng = self.to_latlng(x, y)
        ids = s2vec.cell_ids(lat, lng, self.level)
        idx = np.minimum(np.searchsorted(self.ids, ids), len(self.ids) - 1)
        miss = self.ids[idx] != ids
        if miss.any():  # a sliver of a cell the sample grid did not hit: take the nearest known cell
            mx, my = np.asarray(x)[miss], np.asarray(y)[miss]
            d2 = (mx[:, None] - self.cx[None, :]) ** 2 + (my[:, None] - self.cy[None, :]) ** 2
            idx[miss] = np.argmin(d2, axis=1)
        return idx

    def points_in(self, cell_idx: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """A random point around the centre of each given cell (within half a cell side), inside the box."""
        half = self.cell_side_m / 2
        jx = rng.uniform(-half, half, len(cell_idx))
        jy = rng.uniform(-half, half, len(cell_idx))
        return self.clip(self.cx[cell_idx] + jx, self.cy[cell_idx] + jy)

    def cells_within(self, radius_m: float) -> tuple[np.ndarray, np.ndarray]:
        """Per cell, every cell whose centre is within ``radius_m`` (itself included): a padded matrix
        of cell indices (padding repeats the cell itself) and the matching distances in metres."""
        d = np.hypot(self.cx[:, None] - self.cx[None, :], self.cy[:, None] - self.cy[None, :])
        near = d <= radius_m
        width = int(near.sum(axis=1).max())
        order = np.argsort(np.where(near, d, np.inf), axis=1, kind="stable")[:, :width]
        rows = np.arange(len(self))[:, None]
        ok = near[rows, order]
        nbr = np.where(ok, order, rows)
        return nbr, np.where(ok, d[rows, order], 0.0)

    # roads -----------------------------------------------------------------------------------------
    def speed_ms(self, hour: int) -> float:
        """Average road speed at a local hour, metres per second."""
        return self.speed_kmh_by_hour[hour % 24] / 3.6

    def drive_s(self, dist_m: np.ndarray, hour: int) -> np.ndarray:
        """Road time of straight-line distances (detour factor, speed of the hour)."""
        return np.asarray(dist_m) * self.detour / self.speed_ms(hour)


__all__ = ["City", "core_bounds"]

"""Heatmap cells for a viewport: zoom to S2 level, aggregation into parent cells, the colour scale.

Shared by the REST heatmap and the live streams so that both draw the same map. Pure functions over
surge updates; no I/O.

- **Level for a zoom**: ``min(cell_level, max(MIN_LEVEL, zoom + 1))``: at web-map zoom 12 and closer
  the cells are the pricing cells (level 13 by default); each zoom level further out draws cells one
  S2 level coarser (their parents), down to level 6.
- **Aggregation**: a parent cell shows the *highest* multiplier of its children (a driver looking at a
  zoomed-out map should still see the hotspot), the highest demand level, the *sums* of supply and
  demand, and the balance of its children's trends (more ``increasing`` than ``decreasing`` is
  ``increasing``, and the other way round; else ``stable``), as zones do.
- **Colour scale** (documented in the README): fixed steps from green (no surge) to dark red.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

import msgspec

from ..geo import cells
from ..messages import DEMAND_LEVELS, SurgeUpdate
from .zone_summary import demand_trend

MIN_LEVEL = 6
MAX_HEATMAP_CELLS = 5000

#: (lower bound of the multiplier, colour); the first step whose bound is <= the multiplier applies.
COLOR_SCALE: tuple[tuple[float, str], ...] = (
    (3.0, "#7f0000"),
    (2.5, "#b30000"),
    (2.0, "#d73027"),
    (1.7, "#f46d43"),
    (1.5, "#fdae61"),
    (1.3, "#fee08b"),
    (1.1, "#d9ef8b"),
    (1.0, "#1a9850"),
)
_LEVEL_RANK = {name: i for i, name in enumerate(DEMAND_LEVELS)}
_TREND_SCORE = {"increasing": 1, "stable": 0, "decreasing": -1}


class LatLng(msgspec.Struct, frozen=True):
    """A point (the contract's ``{"latitude","longitude"}``)."""

    latitude: float
    longitude: float


class HeatCell(msgspec.Struct, frozen=True):
    """One cell of a heatmap (CONTRACT: ``cells[]`` of ``GET /api/v1/pricing/heatmap``)."""

    cell: str
    surge_multiplier: float
    demand_level: str
    supply_count: float
    demand_count: float
    color: str
    polygon: list[list[float]]
    trend: Annotated[str, msgspec.Meta(description="Demand trend: increasing, stable or decreasing.")]


def color_for(multiplier: float) -> str:
    """The colour of a multiplier on the documented scale."""
    for bound, color in COLOR_SCALE:
        if multiplier >= bound:
            return color
    return COLOR_SCALE[-1][1]


def level_for_zoom(zoom: int, cell_level: int) -> int:
    """S2 level drawn at a web-map zoom level (0..22)."""
    return min(cell_level, max(MIN_LEVEL, zoom + 1))


def in_bounds(lat: float, lng: float, bounds: tuple[float, float, float, float]) -> bool:
    """True when (lat, lng) lies in (min_lat, min_lng, max_lat, max_lng)."""
    return bounds[0] <= lat <= bounds[2] and bounds[1] <= lng <= bounds[3]


def polygon(token: str) -> list[list[float]]:
    """The cell's four corners as ``[[lat, lng], ...]``."""
    return [[lat, lng] for lat, lng in cells.vertices(token)]


def heat_cell(update: SurgeUpdate) -> HeatCell:
    """A pricing-level cell as drawn."""
    return HeatCell(cell=update.cell, surge_multiplier=update.multiplier, demand_level=update.demand_level,
                    supply_count=update.supply, demand_count=update.demand, color=color_for(update.multiplier),
                    polygon=polygon(update.cell), trend=update.trend)


def aggregate(updates: Iterable[SurgeUpdate], level: int) -> dict[str, HeatCell]:
    """Cells at ``level`` (<= the pricing level) from pricing-level updates; see the module doc for the rules."""
    groups: dict[str, list[SurgeUpdate]] = {}
    for update in updates:
        key = update.cell if cells.level_of(update.cell) <= level else cells.parent(update.cell, level)
        groups.setdefault(key, []).append(update)
    out = {}
    for token, members in groups.items():
        if len(members) == 1 and members[0].cell == token:
            out[token] = heat_cell(members[0])
            continue
        top = max(u.multiplier for u in members)
        level_name = max((u.demand_level for u in members), key=lambda name: _LEVEL_RANK.get(name, 0))
        out[token] = HeatCell(cell=token, surge_multiplier=top, demand_level=level_name,
                              supply_count=sum(u.supply for u in members), demand_count=sum(u.demand for u in members),
                              color=color_for(top), polygon=polygon(token),
                              trend=demand_trend(sum(_TREND_SCORE.get(u.trend, 0) for u in members)))
    return out


def viewport_cells(updates: Iterable[SurgeUpdate], bounds: tuple[float, float, float, float], zoom: int,
                   cell_level: int, max_cells: int = MAX_HEATMAP_CELLS) -> list[HeatCell] | None:
    """Heat cells of the updates whose cell centre is in ``bounds``, aggregated for ``zoom``.

    Returns None when even the aggregated view would exceed ``max_cells`` (the caller answers 400 and
    asks for a smaller box or a lower zoom).
    """
    level = level_for_zoom(zoom, cell_level)
    visible = [u for u in updates if in_bounds(*cells.center(u.cell), bounds)]
    result = aggregate(visible, level)
    if len(result) > max_cells:
        return None
    return sorted(result.values(), key=lambda c: c.cell)

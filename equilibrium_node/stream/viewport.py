"""A stream subscription's viewport: bounds, the S2 level drawn at its zoom, and a vehicle type.

Two clients with equal viewports share one group in the hub (and the bytes of every message), so the
viewport is a small hashable value. Validation is shared by the WebSocket ``subscribe`` message and the
SSE query string; it raises :class:`ApiError` with the same codes as the REST heatmap.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from ..api.endpoint import check_bounds
from ..errors import ApiError, Code
from ..geo import cells
from ..serving.heatmap import level_for_zoom
from .protocol import MAX_ZOOM, Bounds


class Viewport(NamedTuple):
    """What a client looks at: cells of ``vehicle_type`` at S2 ``level`` whose centre lies in ``bounds``."""

    vehicle_type: str
    level: int
    bounds: Bounds

    def contains(self, lat: float, lng: float) -> bool:
        """True when the point lies in the bounds (edges included, as the REST heatmap)."""
        b = self.bounds
        return b[0] <= lat <= b[2] and b[1] <= lng <= b[3]

    def covers(self, rect: Bounds) -> bool:
        """True when the rectangle lies entirely inside the bounds."""
        b = self.bounds
        return b[0] <= rect[0] and b[1] <= rect[1] and rect[2] <= b[2] and rect[3] <= b[3]


@dataclass(frozen=True)
class ViewportRules:
    """What a node accepts: its pricing level, the cell cap and the region's vehicle types (live)."""

    cell_level: int
    max_cells: int
    vehicle_types: Callable[[], Sequence[str]]

    def parse(self, bounds: Sequence[float], zoom: int, vehicle_type: str | None) -> Viewport:
        """A validated viewport, or an :class:`ApiError` naming the field."""
        if len(bounds) != 4:
            raise ApiError("bounds must be four numbers lat1,lng1,lat2,lng2", field="bounds")
        if not 0 <= zoom <= MAX_ZOOM:
            raise ApiError(f"zoom must be within [0, {MAX_ZOOM}], got {zoom}", field="zoom", code=Code.OUT_OF_RANGE)
        box = check_bounds(*bounds)
        known = self.vehicle_types()
        if vehicle_type is None:
            if not known:
                raise ApiError("the region has no vehicle types", field="vehicle_type", code=Code.UNAVAILABLE,
                               status=503)
            vehicle_type = known[0]
        elif vehicle_type not in known:
            raise ApiError(f"unknown vehicle_type {vehicle_type[:64]!r}; one of {', '.join(known)}",
                           field="vehicle_type", code=Code.UNKNOWN_VEHICLE_TYPE)
        level = level_for_zoom(zoom, self.cell_level)
        estimate = cells.estimate_cells(*box, level)
        if estimate > self.max_cells:
            raise ApiError(f"the viewport holds about {int(estimate)} cells at zoom {zoom}, more than "
                           f"{self.max_cells}: zoom out (coarser cells) or send smaller bounds",
                           field="bounds", code=Code.TOO_MANY_CELLS)
        return Viewport(vehicle_type, level, box)


__all__ = ["Viewport", "ViewportRules"]

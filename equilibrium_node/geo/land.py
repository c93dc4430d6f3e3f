"""Which points are on land: the region's outline (``map.outline``) as a vectorised point-in-polygon test.

The demo keeps its drivers and riders out of the Bay and the Pacific with it. Even-odd ray casting,
one numpy pass per edge over all points at once; an empty outline means "everywhere is land".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class Land:
    """Point-in-outline for arrays of points; rings are ``[[lng, lat], ...]`` (GeoJSON order)."""

    def __init__(self, rings: Sequence[Sequence[Sequence[float]]]) -> None:
        edges = []
        for ring in rings:
            pts = np.asarray(ring, dtype=np.float64)[:, :2]
            edges.append(np.column_stack([pts[:-1], pts[1:]]))  # x1, y1, x2, y2 per edge
        self.edges = np.concatenate(edges) if edges else np.empty((0, 4))

    def contains(self, lat: np.ndarray, lng: np.ndarray) -> np.ndarray:
        """Boolean array: which (lat, lng) points lie inside the outline (all of them when it is empty)."""
        lat = np.asarray(lat, dtype=np.float64)
        lng = np.asarray(lng, dtype=np.float64)
        if not len(self.edges):
            return np.ones(lat.shape, dtype=bool)
        inside = np.zeros(lat.shape, dtype=bool)
        for x1, y1, x2, y2 in self.edges:
            if y1 == y2:
                continue
            crosses = (y1 > lat) != (y2 > lat)
            x_at = x1 + (lat - y1) * (x2 - x1) / (y2 - y1)
            inside ^= crosses & (lng < x_at)
        return inside


__all__ = ["Land"]

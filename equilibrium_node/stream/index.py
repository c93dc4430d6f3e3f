"""Which viewport groups show which surge keys, kept both ways so a change finds its groups in O(1).

- ``groups_of(key)``: the groups whose bounds contain the key's cell centre (same vehicle type), each
  with the cell it draws the key in. A key seen for the first time is matched against the groups of
  its vehicle type once; from then on the answer is a stored dict.
- ``add_group``: a new group picks up the keys in its bounds from a coarse lat/lng grid of every key
  seen, so its cost follows the size of the viewport, not of the region.
- ``remove_group``: the reverse, when its last subscriber leaves.
"""

from __future__ import annotations

import math

from ..geo import cells
from .group import ViewGroup

#: side of a grid square in degrees (about 5 km), to find the keys of a new viewport
GRID_DEG = 0.05


def _square(lat: float, lng: float) -> tuple[int, int]:
    return math.floor(lat / GRID_DEG), math.floor(lng / GRID_DEG)


class ViewIndex:
    """Surge keys <-> viewport groups, for one node's pricing level."""

    def __init__(self, cell_level: int) -> None:
        self.cell_level = cell_level
        self._key_groups: dict[str, dict[ViewGroup, str]] = {}  # key -> {group: drawn cell}
        self._groups: dict[str, set[ViewGroup]] = {}  # vehicle type -> groups
        # vehicle type -> grid square -> [(key, cell, lat, lng)]
        self._grid: dict[str, dict[tuple[int, int], list[tuple[str, str, float, float]]]] = {}

    def groups_of(self, key: str) -> dict[ViewGroup, str]:
        """Groups showing ``key`` (``<cell>.<vehicle_type>``) and the cell each draws it in; indexes new keys."""
        found = self._key_groups.get(key)
        if found is not None:
            return found
        cell, _, vehicle_type = key.partition(".")
        found = self._key_groups[key] = {}
        try:
            lat, lng = cells.center(cell)
        except ValueError:  # not an S2 token: the surge view rejects such values, nothing to show
            return found
        self._grid.setdefault(vehicle_type, {}).setdefault(_square(lat, lng), []).append((key, cell, lat, lng))
        for group in self._groups.get(vehicle_type, ()):
            if group.viewport.contains(lat, lng):
                found[group] = group.add(key, cell, self.cell_level)
        return found

    def add_group(self, group: ViewGroup) -> None:
        """Index a new group and fill it with the keys already seen in its bounds."""
        viewport = group.viewport
        self._groups.setdefault(viewport.vehicle_type, set()).add(group)
        grid = self._grid.get(viewport.vehicle_type)
        if not grid:
            return
        lat1, lng1, lat2, lng2 = viewport.bounds
        (i1, j1), (i2, j2) = _square(lat1, lng1), _square(lat2, lng2)
        if (i2 - i1 + 1) * (j2 - j1 + 1) > len(grid):
            squares = list(grid.values())  # a viewport larger than the data: walk what exists
        else:
            squares = [grid[(i, j)] for i in range(i1, i2 + 1) for j in range(j1, j2 + 1) if (i, j) in grid]
        for square in squares:
            for key, cell, lat, lng in square:
                if viewport.contains(lat, lng):
                    self._key_groups[key][group] = group.add(key, cell, self.cell_level)

    def remove_group(self, group: ViewGroup) -> None:
        """Forget a group (no subscriber left)."""
        groups = self._groups.get(group.viewport.vehicle_type)
        if groups is not None:
            groups.discard(group)
        for key in group.key_parent:
            found = self._key_groups.get(key)
            if found is not None:
                found.pop(group, None)

    def group_count(self) -> int:
        """Groups indexed."""
        return sum(len(g) for g in self._groups.values())


__all__ = ["GRID_DEG", "ViewIndex"]

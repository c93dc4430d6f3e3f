"""Heat cells of a viewport group, encoded once and cached until one of their pricing cells changes.

A cell is drawn exactly as the REST heatmap draws it (:mod:`equilibrium_node.serving.heatmap`): the
pricing cell itself at close zooms, the aggregate of the *visible* pricing cells under a parent at
coarser ones. A parent lying entirely inside the bounds shows all its children, so its encoding is the
same for every viewport and is cached by ``(vehicle_type, level, token)``; a parent cut by the edge of a
viewport shows only some children and is encoded for that group alone. Each cached value is the cell's
JSON and the newest ``updated_at`` of its children (for the messages' ``last_updated``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import msgspec

from ..serving.heatmap import aggregate, heat_cell
from ..serving.surge_view import SurgeEntry
from .group import ViewGroup, parent_of

Rendered = tuple[msgspec.Raw, str]  # (cell JSON, newest updated_at of its children)

_encoder = msgspec.json.Encoder()


class CellRenderer:
    """Encodes the cells of groups from the served entries, with the shared cache described above."""

    def __init__(self, entries: Mapping[str, SurgeEntry], cell_level: int) -> None:
        self.entries = entries
        self.cell_level = cell_level
        # (vehicle type, level) -> drawn cell -> rendered; only cells lying wholly inside some viewport
        self._cache: dict[tuple[str, int], dict[str, Rendered]] = {}
        self.encoded = 0  # cells encoded (the cache's misses), for tests and benchmarks

    def invalidate(self, vehicle_type: str, cell: str, levels: Iterable[int]) -> None:
        """Forget the cached cells that contain ``cell`` at the levels viewports use."""
        for level in levels:
            shared = self._cache.get((vehicle_type, level))
            if shared:
                shared.pop(cell if level >= self.cell_level else parent_of(cell, level), None)

    def _render(self, group: ViewGroup, token: str) -> Rendered | None:
        """Encode one drawn cell from its pricing cells' current values (None when none has one)."""
        entries = self.entries
        updates = [e.update for key in group.members.get(token, ()) if (e := entries.get(key)) is not None]
        if not updates:
            return None
        if len(updates) == 1 and updates[0].cell == token:
            heat = heat_cell(updates[0])
        else:
            heat = aggregate(updates, group.viewport.level)[token]
        self.encoded += 1
        return msgspec.Raw(_encoder.encode(heat)), max(u.updated_at for u in updates)

    def render_many(self, group: ViewGroup, tokens: Iterable[str]) -> tuple[list[msgspec.Raw], list[str], str | None]:
        """(cells, removed tokens, newest updated_at) for ``tokens`` of a group; the hot path of every flush."""
        viewport = group.viewport
        slot = (viewport.vehicle_type, viewport.level)
        shared = self._cache.get(slot)
        if shared is None:
            shared = self._cache[slot] = {}
        complete = group.complete
        out: list[msgspec.Raw] = []
        removed: list[str] = []
        newest: str | None = None
        for token in tokens:
            whole = complete.get(token, False)
            rendered = shared.get(token) if whole else None
            if rendered is None:
                rendered = self._render(group, token)
                if rendered is None:
                    removed.append(token)
                    continue
                if whole:
                    shared[token] = rendered
            out.append(rendered[0])
            if newest is None or rendered[1] > newest:
                newest = rendered[1]
        return out, removed, newest


__all__ = ["CellRenderer", "Rendered"]

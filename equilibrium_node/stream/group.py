"""A viewport group: the clients looking at the same viewport, and the cells that viewport shows.

Clients with equal viewports (same bounds, S2 level and vehicle type) share one group, so every delta
is computed and encoded once for all of them. The group knows which surge keys it shows and under which
drawn cell (the key's parent at the viewport's level), which of its drawn cells changed since the last
flush (``dirty``), and caches its snapshot until the next change.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import s2sphere

from ..geo import cells
from .protocol import Bounds
from .viewport import Viewport

if TYPE_CHECKING:
    from .framing import Outgoing
    from .subscriber import Subscriber


@lru_cache(maxsize=1 << 18)
def parent_of(token: str, level: int) -> str:
    """The cell's ancestor at ``level``, or the cell itself when it is not finer than ``level``."""
    cid = s2sphere.CellId(cells.from_token(token))
    if cid.level() <= level:
        return token
    return cells.to_token(cid.parent(level).id())


@lru_cache(maxsize=1 << 16)
def rect_of(token: str) -> Bounds:
    """(min_lat, min_lng, max_lat, max_lng) bounding the cell."""
    rect = s2sphere.Cell(s2sphere.CellId(cells.from_token(token))).get_rect_bound()
    return rect.lat_lo().degrees, rect.lng_lo().degrees, rect.lat_hi().degrees, rect.lng_hi().degrees


class ViewGroup:
    """One viewport, its subscribers, and the surge keys it shows."""

    __slots__ = ("complete", "dirty", "key_parent", "members", "partial", "snapshot", "subscribers", "viewport")

    def __init__(self, viewport: Viewport) -> None:
        self.viewport = viewport
        #: drawn cell -> surge keys shown in it
        self.members: dict[str, list[str]] = {}
        #: drawn cell -> True when it lies entirely in the bounds (so its encoding is shared by all groups)
        self.complete: dict[str, bool] = {}
        #: the drawn cells that are not complete (cut by an edge of the bounds): one set test per flush
        self.partial: set[str] = set()
        #: surge key -> drawn cell
        self.key_parent: dict[str, str] = {}
        self.subscribers: dict[Subscriber, None] = {}
        #: drawn cells changed since the last flush
        self.dirty: set[str] = set()
        #: the snapshot message while nothing changed since it was built
        self.snapshot: Outgoing | None = None

    def add(self, key: str, cell: str, cell_level: int) -> str:
        """Show surge key ``key`` of pricing cell ``cell`` (whose centre lies in the bounds); returns its drawn cell."""
        level = self.viewport.level
        parent = cell if level >= cell_level else parent_of(cell, level)
        members = self.members.get(parent)
        if members is None:
            members = self.members[parent] = []
            whole = self.complete[parent] = level >= cell_level or self.viewport.covers(rect_of(parent))
            if not whole:
                self.partial.add(parent)
        members.append(key)
        self.key_parent[key] = parent
        return parent

    def __repr__(self) -> str:
        return f"ViewGroup({self.viewport}, {len(self.subscribers)} subscribers)"


__all__ = ["ViewGroup", "parent_of", "rect_of"]

"""Zone figures from served cells: the ``zones[]`` of the heatmap and the input of driver recommendations.

Pure functions. A zone is summarised like a zoomed-out parent cell (:mod:`.heatmap`): the *highest*
served multiplier of its cells (the hotspot stays visible), the highest demand level, the *sums* of
supply and demand. Its demand trend is the balance of its cells' trends: more cells ``increasing``
than ``decreasing`` is ``increasing``, and the other way round ``decreasing``; else ``stable``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ..messages import DEMAND_LEVELS, SurgeUpdate

_LEVEL_RANK = {name: i for i, name in enumerate(DEMAND_LEVELS)}
_TREND_SCORE = {"increasing": 1, "stable": 0, "decreasing": -1}


@dataclass
class ZoneAggregate:
    """Running figures of one zone's served cells."""

    zone_id: str
    multiplier: float = 1.0
    demand_level: str = "low"
    supply: float = 0.0
    demand: float = 0.0
    trend_score: int = 0
    cells: list[str] = field(default_factory=list)

    def add(self, update: SurgeUpdate, multiplier: float) -> None:
        """Fold one cell in (``multiplier`` is the served value, after degraded mode and rules)."""
        if not self.cells or multiplier > self.multiplier:
            self.multiplier = multiplier
        if _LEVEL_RANK.get(update.demand_level, 0) > _LEVEL_RANK.get(self.demand_level, 0):
            self.demand_level = update.demand_level
        self.supply += update.supply
        self.demand += update.demand
        self.trend_score += _TREND_SCORE.get(update.trend, 0)
        self.cells.append(update.cell)

    @property
    def trend(self) -> str:
        """``increasing`` / ``stable`` / ``decreasing``."""
        return demand_trend(self.trend_score)


def demand_trend(score: int) -> str:
    """The trend of a zone from the balance of its cells' trends."""
    if score > 0:
        return "increasing"
    if score < 0:
        return "decreasing"
    return "stable"


def aggregate_zones(updates: Iterable[SurgeUpdate], serve: Callable[[float], float]) -> dict[str, ZoneAggregate]:
    """Zone figures from served updates, keyed by ``update.zone_id``."""
    out: dict[str, ZoneAggregate] = {}
    for update in updates:
        agg = out.get(update.zone_id)
        if agg is None:
            agg = out[update.zone_id] = ZoneAggregate(update.zone_id)
        agg.add(update, serve(update.multiplier))
    return out





class ZoneCentres:
    """Centres of the configured zones, computed once per live-config snapshot (about 1 ms per zone)."""

    def __init__(self) -> None:
        self._snapshot: object = None
        self._centres: dict[str, tuple[float, float]] = {}

    def of(self, snapshot) -> dict[str, tuple[float, float]]:
        """``{zone_id: (lat, lng)}`` of every zone of ``snapshot`` (a ``ConfigSnapshot``)."""
        if snapshot is not self._snapshot:
            index = snapshot.zone_index
            self._centres = {zone_id: index.center(zone_id) for zone_id in snapshot.zones}
            self._snapshot = snapshot
        return self._centres

__all__ = ["ZoneAggregate", "ZoneCentres", "aggregate_zones", "demand_trend"]

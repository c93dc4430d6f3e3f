"""The prices riders see in the simulation: the node's own pricing core, or none at all.

:class:`CorePricer` runs the real :class:`~equilibrium_node.pricing.core.PricingCore` (smoothing,
the plugin, the ten guardrails, the publish decision) on simulated time, over the
:class:`~.market.SimMarket`, exactly as the engine service runs it over the node's market; what a
tick publishes is what riders are quoted from then on (the node's surge mirror). When pricing is
down (the ``outage`` scenario) the node's degraded-mode rules decide what is served
(:func:`~equilibrium_node.serving.degraded.freshness` and
:func:`~equilibrium_node.serving.degraded.served_multiplier`): the last multiplier while it is
younger than ``pricing.fallback_after_s``, then 1.0.

The compared algorithm replaces the algorithm of every zone of the config (keeping the zone's limits,
and its parameters where it already used that algorithm), and a catch-all zone around the city gives
the cells outside every zone the same algorithm (with the default zone's limits), so the whole city
prices with it. Everything else (rules, smoothing, time-of-day factors) is the config's. Only the
first vehicle type of the fare table is simulated.

``none`` is no surge pricing: every rider is quoted 1.0 and the pricing core does not run.
"""

from __future__ import annotations

import math
from types import MappingProxyType
from typing import Protocol

import msgspec
import numpy as np

from ..errors import ConfigError
from ..geo.zones import ZoneIndex
from ..live_config import ConfigSnapshot
from ..market.view import MarketView
from ..pricing.core import PricingCore
from ..pricing.registry import AlgorithmRegistry
from ..serving.degraded import freshness, served_multiplier
from ..settings import Polygon, Settings, ZoneConfig
from .city import City

NO_SURGE = "none"
#: How far (degrees) the catch-all zone reaches beyond the city: the cells the core adds around it.
CATCH_ALL_MARGIN_DEG = 0.1


class Pricer(Protocol):
    """What the runner needs from pricing."""

    name: str

    def tick(self, market: MarketView, now: float) -> None:
        """Price at ``now``."""
        ...

    def served(self, now: float) -> np.ndarray:
        """The multiplier quoted in each city cell at ``now``."""
        ...


class NoSurge:
    """No surge pricing: 1.0 everywhere, always."""

    name = NO_SURGE

    def __init__(self, cells: int) -> None:
        self._ones = np.ones(cells)

    def tick(self, market: MarketView, now: float) -> None:
        """Nothing to price."""

    def served(self, now: float) -> np.ndarray:
        """1.0 everywhere."""
        return self._ones


def _override(zone: ZoneConfig, algorithm: str) -> ZoneConfig:
    if zone.algorithm == algorithm:
        return zone
    return msgspec.structs.replace(zone, algorithm=algorithm, params={}, model="")


def sim_config(settings: Settings, algorithm: str, city: City, registry: AlgorithmRegistry) -> ConfigSnapshot:
    """The config a simulated region prices with: every zone (and the rest of the city) on ``algorithm``."""
    lat_lo, lng_lo, lat_hi, lng_hi = city.bounds
    m = CATCH_ALL_MARGIN_DEG
    ring = [[lng_lo - m, lat_lo - m], [lng_hi + m, lat_lo - m], [lng_hi + m, lat_hi + m], [lng_lo - m, lat_hi + m],
            [lng_lo - m, lat_lo - m]]
    rest = ZoneConfig(id=f"{settings.region}_sim_rest", name="Rest of the simulated city",
                      geometry=Polygon(type="Polygon", coordinates=[ring]), algorithm=algorithm)
    zones = [_override(z, algorithm) for z in settings.zones] + [rest]
    for zone in zones:
        problem = registry.zone_problem(zone)
        if problem:
            raise ConfigError(problem[0], field="algorithms")
    vehicle_type = next(iter(settings.fares))
    index = ZoneIndex(zones, settings.region, settings.cell_level)
    return ConfigSnapshot(settings.rules, MappingProxyType({z.id: z for z in zones}),
                          MappingProxyType({vehicle_type: settings.fares[vehicle_type]}), index,
                          MappingProxyType({}), 0)


class CorePricer:
    """The node's pricing core on simulated time (see the module docstring)."""

    def __init__(self, settings: Settings, algorithm: str, city: City, tick_s: float,
                 registry: AlgorithmRegistry) -> None:
        self.name = algorithm
        self.city = city
        self.config = sim_config(settings, algorithm, city, registry)
        self.pricing = msgspec.structs.replace(settings.pricing, tick_s=tick_s)
        self.core = PricingCore(settings.region, settings.timezone, self.pricing, registry)
        self.known = np.full(len(city), np.nan)  # what the region serves per city cell (nan: never priced)
        self.last_tick: float | None = None
        self.ticks = 0
        self.tick_cells = 0

    def tick(self, market: MarketView, now: float) -> None:
        """One tick of the core; what it publishes becomes what riders are quoted."""
        result = self.core.tick(market, self.config, now)
        get = self.city.index.get
        for batch in result.batches:
            idx = np.fromiter((get(c, -1) for c in batch.cells), dtype=np.int64, count=len(batch.cells))
            ok = idx >= 0
            self.known[idx[ok]] = batch.multiplier[ok]
        self.last_tick = now
        self.ticks += 1
        self.tick_cells += result.priced

    def served(self, now: float) -> np.ndarray:
        """The degraded-mode rules of the node on the published multipliers."""
        evidence = self.last_tick if self.last_tick is not None else now
        fresh = freshness(now, evidence, True, None, self.pricing.stale_after_s, self.pricing.fallback_after_s)
        rules = self.config.rules
        return np.array([served_multiplier(None if math.isnan(k) else k, fresh, rules) for k in self.known.tolist()])


def check_algorithms(names: list[str], registry: AlgorithmRegistry) -> None:
    """:class:`ConfigError` naming the choices when an algorithm is unknown (``none`` is always known)."""
    for name in names:
        if name != NO_SURGE:
            try:
                registry.get(name)
            except ConfigError as exc:
                raise ConfigError(f"{exc.message} (or {NO_SURGE!r}: no surge)", field="algorithms") from None


def make_pricer(name: str, settings: Settings, city: City, tick_s: float, registry: AlgorithmRegistry) -> Pricer:
    """The pricer of an algorithm name."""
    if name == NO_SURGE:
        return NoSurge(len(city))
    return CorePricer(settings, name, city, tick_s, registry)


__all__ = ["NO_SURGE", "CorePricer", "NoSurge", "Pricer", "check_algorithms", "make_pricer", "sim_config"]

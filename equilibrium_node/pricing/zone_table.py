"""The zones of one config version as arrays: pricing parameters, algorithm instances, factors, caps.

Cells in no zone belong to ``<region>_default``, which prices with the defaults of
:class:`~equilibrium_node.settings.ZoneConfig` (``linear``, 1.0 to 3.0, step 0.1). A zone whose
algorithm cannot be built (say its model file vanished after the config was accepted) falls back to
``linear`` with default parameters and logs why, rather than stopping the pricing of every zone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import msgspec
import numpy as np

from ..errors import ConfigError
from ..logs import get_logger
from ..settings import Polygon, ZoneConfig
from .cap_rule import DailyMaxRollup
from .protocol import PricingAlgorithm
from .registry import AlgorithmRegistry

log = get_logger(__name__)


def default_zone(region: str) -> ZoneConfig:
    """The zone of cells that lie in no configured zone."""
    return ZoneConfig(id=f"{region}_default", name="Rest of region", geometry=Polygon(type="Polygon", coordinates=[]))


def geometry_key(zones: Mapping[str, ZoneConfig]) -> bytes:
    """Identifies the zones' shapes: cell-to-zone assignment only changes when this does."""
    return msgspec.json.encode(sorted((z.id, z.geometry) for z in zones.values()))


def algorithm_key(zone: ZoneConfig) -> str:
    """Identifies an algorithm configuration (its per-cell state is kept under this key)."""
    params = ",".join(f"{k}={v!r}" for k, v in sorted(zone.params.items()))
    return f"{zone.algorithm}({params}){'@' + zone.model if zone.model else ''}"


class ZoneTable:
    """Zone parameters of one config version, indexed by zone position (the default zone last)."""

    def __init__(self, region: str, zones: Mapping[str, ZoneConfig], registry: AlgorithmRegistry) -> None:
        listed = [*zones.values(), default_zone(region)]
        self.ids = [z.id for z in listed]
        self.position = {zone_id: i for i, zone_id in enumerate(self.ids)}
        self.default = len(listed) - 1
        self.zones = listed
        self.min = np.array([z.min_multiplier for z in listed], dtype=np.float64)
        self.max = np.array([z.max_multiplier for z in listed], dtype=np.float64)
        self.step = np.array([z.rounding_step for z in listed], dtype=np.float64)
        self.algorithms: list[PricingAlgorithm] = []
        self.algorithm_keys: list[str] = []
        for zone in listed:
            try:
                algorithm, key = registry.create(zone.algorithm, zone.params, zone.model), algorithm_key(zone)
            except ConfigError as exc:
                log.error("zone_algorithm_unusable", zone=zone.id, algorithm=zone.algorithm, error=exc.message)
                algorithm, key = registry.create("linear"), "linear()"
            self.algorithms.append(algorithm)
            self.algorithm_keys.append(key)
        self.algorithm_names = [a.name for a in self.algorithms]

    def limits(self, global_max: float) -> tuple[np.ndarray, np.ndarray]:
        """(floor, ceiling) per zone: the zone's range under the global cap (the cap wins)."""
        ceiling = np.minimum(self.max, global_max)
        return np.minimum(self.min, ceiling), ceiling

    def signal_factors(self, active: Mapping[str, float]) -> np.ndarray:
        """Factor per zone from ``{zone_id: product of active signal factors}``."""
        out = np.ones(len(self.ids))
        for zone_id, factor in active.items():
            pos = self.position.get(zone_id)
            if pos is not None:
                out[pos] = factor
        return out

    def caps(self, rollup: DailyMaxRollup, today: dt.date) -> np.ndarray:
        """The emergency cap per zone (60-day rule)."""
        return np.array([rollup.cap(zone_id, today) for zone_id in self.ids], dtype=np.float64)


__all__ = ["ZoneTable", "algorithm_key", "default_zone", "geometry_key"]

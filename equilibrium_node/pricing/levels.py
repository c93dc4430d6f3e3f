"""Demand level and trend of a cell: what riders and drivers read next to the multiplier.

- **Demand level** from the demand/supply ratio and the three ascending thresholds of
  ``rules.demand_level_thresholds`` (default 0.5, 1.2, 2.0): ``low`` below the first, ``normal``
  from the first, ``high`` from the second, ``very_high`` from the third. Demand with no supply is
  ``very_high``; no demand is ``low``.
- **Trend** compares the demand rate of the last minute with the rate over five minutes
  (``demand_5m / 5`` per minute): ``increasing`` when the 1-minute rate is more than ``band``
  (default 20 %) above it, ``decreasing`` when more than ``band`` below it, else ``stable``. Under
  one rider per minute either way is ``stable`` (noise, not a trend).

Both work on arrays and return small integer codes (indices into ``DEMAND_LEVELS`` and ``TRENDS``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..messages import DEMAND_LEVELS, TRENDS

LOW, NORMAL, HIGH, VERY_HIGH = range(4)
INCREASING, STABLE, DECREASING = range(3)
#: Below this many riders per minute (both rates) a change is noise, not a trend.
MIN_TREND_RATE = 1.0

assert DEMAND_LEVELS == ("low", "normal", "high", "very_high")
assert TRENDS == ("increasing", "stable", "decreasing")


def demand_level(demand: np.ndarray, supply: np.ndarray, thresholds: Sequence[float]) -> np.ndarray:
    """Level codes (0 low .. 3 very_high) from the demand/supply ratio."""
    demand = np.asarray(demand, dtype=np.float64)
    supply = np.asarray(supply, dtype=np.float64)
    r = np.full(demand.shape, np.inf)
    np.divide(demand, supply, out=r, where=supply > 0)
    r = np.where(demand <= 0, 0.0, r)
    return np.searchsorted(np.asarray(thresholds, dtype=np.float64), r, side="right").astype(np.int8)


def trend(demand_1m: np.ndarray, demand_5m: np.ndarray, band: float) -> np.ndarray:
    """Trend codes (0 increasing, 1 stable, 2 decreasing): 1-minute rate against the 5-minute rate."""
    rate_1 = np.asarray(demand_1m, dtype=np.float64)
    rate_5 = np.asarray(demand_5m, dtype=np.float64) / 5.0
    out = np.full(rate_1.shape, STABLE, dtype=np.int8)
    busy = np.maximum(rate_1, rate_5) >= MIN_TREND_RATE
    out[busy & (rate_1 > rate_5 * (1.0 + band))] = INCREASING
    out[busy & (rate_1 < rate_5 * (1.0 - band))] = DECREASING
    return out


__all__ = ["DECREASING", "HIGH", "INCREASING", "LOW", "NORMAL", "STABLE", "VERY_HIGH", "demand_level", "trend"]

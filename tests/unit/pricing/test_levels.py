"""Demand level and trend."""

from __future__ import annotations

import numpy as np

from equilibrium_node.messages import DEMAND_LEVELS, TRENDS
from equilibrium_node.pricing.levels import demand_level, trend


def test_demand_level_thresholds_on_the_ratio():
    supply = np.array([10, 10, 10, 10, 10, 0, 0, 10.0])
    demand = np.array([0, 4.9, 5, 12, 20, 3, 0, 19.99])
    codes = demand_level(demand, supply, [0.5, 1.2, 2.0])
    assert [DEMAND_LEVELS[c] for c in codes] == ["low", "low", "normal", "high", "very_high", "very_high", "low",
                                                 "high"]


def test_trend_one_minute_rate_against_five_minute_rate():
    d1 = np.array([10.0, 10.0, 10.0, 0.5, 0.0])
    d5 = np.array([25.0, 50.0, 75.0, 0.0, 0.0])  # 5/min, 10/min, 15/min, 0, 0
    codes = trend(d1, d5, 0.2)
    assert [TRENDS[c] for c in codes] == ["increasing", "stable", "decreasing", "stable", "stable"]

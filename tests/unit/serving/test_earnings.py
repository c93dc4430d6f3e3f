"""Driver recommendations: utilisation estimate, earnings, ranking, zone summaries."""

from __future__ import annotations

import pytest

from equilibrium_node.geo import cells
from equilibrium_node.messages import SurgeUpdate
from equilibrium_node.serving.earnings import (
    UTILISATION_MAX,
    UTILISATION_MIN,
    earnings_per_hour,
    expected_utilisation,
    rank_zones,
)
from equilibrium_node.serving.zone_summary import aggregate_zones, demand_trend


def _update(lat, lng, zone, m, supply=2.0, demand=2.0, trend="stable", level="normal") -> SurgeUpdate:
    return SurgeUpdate(cell=cells.cell_token(lat, lng, 13), zone_id=zone, vehicle_type="standard", multiplier=m,
                       supply=supply, demand=demand, demand_level=level, trend=trend, algorithm="linear", rev=1,
                       updated_at="2024-01-01T00:00:00Z")


def test_utilisation_is_riders_per_driver_clamped():
    assert expected_utilisation(supply=3, demand=2) == pytest.approx(0.5)
    assert expected_utilisation(supply=0, demand=0) == UTILISATION_MIN
    assert expected_utilisation(supply=1, demand=50) == UTILISATION_MAX


def test_earnings_formula():
    assert earnings_per_hour(1.5, 32.0, 0.5) == 24.0


def test_zone_aggregate_takes_max_multiplier_sums_and_trend_balance():
    ups = [_update(37.780, -122.400, "soma", 1.2, 3, 1, "increasing", "normal"),
           _update(37.783, -122.405, "soma", 1.8, 1, 4, "increasing", "very_high"),
           _update(37.775, -122.410, "soma", 1.0, 5, 0, "decreasing", "low")]
    agg = aggregate_zones(ups, float)["soma"]
    assert agg.multiplier == 1.8 and agg.supply == 9 and agg.demand == 5 and agg.demand_level == "very_high"
    assert agg.trend == "increasing" and len(agg.cells) == 3
    assert demand_trend(0) == "stable" and demand_trend(-2) == "decreasing"


def test_rank_zones_by_expected_earnings_within_radius():
    lat, lng = 37.7800, -122.4000
    ups = [
        _update(37.7810, -122.4010, "soma", 1.2, supply=4, demand=4),            # near, busy-ish
        _update(37.7950, -122.3950, "financial_district", 2.0, supply=1, demand=6, trend="increasing"),  # ~1.7 km
        _update(37.7600, -122.4200, "mission", 3.0, supply=0, demand=9),        # ~2.8 km
        _update(37.7000, -122.4700, "far", 4.0, supply=0, demand=9),            # ~11 km: outside 5 km
    ]
    ranked = rank_zones(lat, lng, "soma", 5000, ups, float, {}, base_hourly=30.0)
    assert [r.zone_id for r in ranked] == ["mission", "financial_district", "soma"]
    mission, fd, soma = ranked
    assert mission.earnings_per_hour == pytest.approx(3.0 * 30 * UTILISATION_MAX)
    assert fd.earnings_per_hour == pytest.approx(2.0 * 30 * 0.95) and fd.trend == "increasing"
    assert soma.distance_m == 0.0 and soma.earnings_per_hour == pytest.approx(1.2 * 30 * 0.8)
    assert 1000 < fd.distance_m < 2500


def test_rank_zones_applies_the_serving_policy_and_lists_quiet_zones():
    ups = [_update(37.7810, -122.4010, "soma", 2.0, supply=0, demand=5)]
    ranked = rank_zones(37.78, -122.40, "soma", 3000, ups, lambda m: 1.0, {"quiet": (37.79, -122.40),
                                                                           "remote": (38.5, -121.0)}, 30.0)
    assert {r.zone_id for r in ranked} == {"soma", "quiet"}
    quiet = next(r for r in ranked if r.zone_id == "quiet")
    assert quiet.multiplier == 1.0 and quiet.utilisation == UTILISATION_MIN
    assert next(r for r in ranked if r.zone_id == "soma").multiplier == 1.0  # fallback served 1.0

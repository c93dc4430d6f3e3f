"""What a snapshot records per zone and vehicle type, and which zones count as active."""

from __future__ import annotations

from equilibrium_node.analytics.zone_snapshot import market_by_zone, multipliers_by_zone, zone_records
from equilibrium_node.messages import SurgeUpdate
from tests.support.plain_market import PlainMarket

ZONE_OF = {"a1": "soma", "a2": "soma", "b1": "mission", "c1": "sf_default"}


def update(cell: str, multiplier: float, vt: str = "standard") -> SurgeUpdate:
    return SurgeUpdate(cell, ZONE_OF[cell], vt, multiplier, 1, 2, "high", "stable", "linear", 1, "2026-01-01T00:00:00Z")


def test_records_of_active_zones():
    market = PlainMarket()
    market.set("a1", supply=3, demand=2.5, on_trip=1)
    market.set("a2", supply=1, demand=1.0)
    market.set("b1", "xl", supply=2)
    by_zone = market_by_zone(market, ("standard", "xl"), ZONE_OF.__getitem__)
    assert by_zone == {("soma", "standard"): [4.0, 1.0, 3.5], ("mission", "xl"): [2.0, 0.0, 0.0]}
    mults = multipliers_by_zone([update("a1", 1.5), update("a2", 2.5), update("b1", 1.0), update("c1", 1.3),
                                 update("b1", 1.0, "xl")])
    assert mults[("soma", "standard")] == [2, 4.0, 2.5]
    funnel = {("mission", "standard"): (3, 1)}
    records = zone_records(1_800_000_000.0, 60.0, 77, by_zone, mults, funnel)
    keys = [(r.zone_id, r.vehicle_type) for r in records]
    # mission/standard: quotes only (its cell at 1.0 alone would not make it active); sf_default: a surge
    assert keys == [("mission", "standard"), ("mission", "xl"), ("sf_default", "standard"), ("soma", "standard")]
    soma = records[-1]
    assert (soma.supply, soma.on_trip, soma.demand, soma.cells) == (4, 1, 3.5, 2)
    assert (soma.mean_multiplier, soma.max_multiplier, soma.quotes, soma.accepts) == (2.0, 2.5, 0, 0)
    assert (soma.ts, soma.interval_s, soma.seq) == (1_800_000_000.0, 60.0, 77)
    mission = records[0]
    assert (mission.quotes, mission.accepts, mission.cells, mission.mean_multiplier) == (3, 1, 1, 1.0)
    xl = records[1]
    assert (xl.supply, xl.cells, xl.max_multiplier) == (2, 1, 1.0)


def test_nothing_active_no_records():
    market = PlainMarket()
    assert zone_records(0.0, 60.0, 0, market_by_zone(market, ("standard",), ZONE_OF.__getitem__),
                        multipliers_by_zone([update("a1", 1.0)]), {}) == []

"""Explain: the derivation of one cell agrees with what the tick serves and shows every step."""

from __future__ import annotations

import msgspec
import pytest

from equilibrium_node.geo import cells
from equilibrium_node.live_config import ConfigStore
from equilibrium_node.pricing.core import PricingCore
from equilibrium_node.pricing.explain import explain
from equilibrium_node.pricing.guardrails import STEPS
from tests.support.plain_market import PlainMarket

FIDI = cells.cell_token(37.7946, -122.3950, 13)
enc = msgspec.json.encode


@pytest.fixture
def setup(sf_settings):
    store = ConfigStore(sf_settings.region, sf_settings.cell_level, sf_settings)
    rules = msgspec.structs.replace(store.current.rules, rise_confirm_s=0, fall_confirm_s=0, max_change_per_min=600,
                                    time_of_day=[], shadow_algorithms=["exponential"])
    assert store.apply("rules", enc(rules))
    return store, PricingCore(sf_settings.region, sf_settings.timezone, sf_settings.pricing), PlainMarket()


def test_explain_matches_the_tick_and_lists_every_step(setup):
    store, core, m = setup
    m.set(FIDI, supply=2, demand=10)
    core.tick(m, store.current, m.advance(1))
    lat, lng = cells.center(FIDI)
    e = explain(core, m, store.current, lat, lng, "standard", 13)
    assert e.cell == FIDI and e.zone_id == "financial_district" and e.algorithm == "linear"
    assert [s.step for s in e.guardrails] == list(STEPS)
    assert e.raw.supply == 2 and e.raw.demand_1m == 10
    assert e.smoothed.ratio == pytest.approx(5.0)
    assert e.smoothed.neighbours and all(n.weight < 1 for n in e.smoothed.neighbours)
    assert e.algorithm_output == pytest.approx(3.4)
    assert e.multiplier == float(core.states["standard"].pub_multiplier[core.graph.slot[FIDI]]) == 3.4
    assert e.shadow[0].algorithm == "exponential" and e.shadow[0].output > 1
    # each step starts where the previous one ended
    for before, after in zip(e.guardrails, e.guardrails[1:], strict=False):
        if after.step != "hysteresis":  # hysteresis starts from the served value
            assert after.before == before.after


def test_explain_shows_a_pending_rise_and_an_applied_cap(setup):
    store, core, m = setup
    rules = msgspec.structs.replace(store.current.rules, rise_confirm_s=30)
    assert store.apply("rules", enc(rules))
    zone = msgspec.structs.replace(store.current.zones["financial_district"], max_multiplier=2.0)
    assert store.apply("zone.financial_district", enc(zone))
    m.set(FIDI, supply=2, demand=10)
    core.tick(m, store.current, m.advance(1))
    lat, lng = cells.center(FIDI)
    e = explain(core, m, store.current, lat, lng, "standard", 13)
    steps = {s.step: s for s in e.guardrails}
    assert steps["zone_limits"].applied and steps["zone_limits"].after == 2.0
    assert "rise pending" in steps["hysteresis"].detail and steps["hysteresis"].after == 1.0
    assert e.multiplier == 1.0


def test_explain_of_a_quiet_point_on_a_node_that_never_priced(setup):
    store, core, m = setup
    e = explain(core, m, store.current, 37.62, -122.38, "premium", 13)
    assert e.zone_id == "sfo_airport" and e.multiplier == 1.0
    assert e.guardrails[0].applied is False and e.guardrails[0].before == 1.0
    assert "no supply and no demand" in e.guardrails[0].detail

"""The pricing tick on plain inputs: what it prices, serves, publishes and audits."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import msgspec
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from equilibrium_node.geo import cells
from equilibrium_node.live_config import ConfigStore, Signal
from equilibrium_node.messages import DEMAND_LEVELS, TRENDS, SurgeUpdate
from equilibrium_node.pricing.core import PricingCore
from equilibrium_node.settings import TimeOfDayFactor
from tests.support.plain_market import PlainMarket

FIDI = cells.cell_token(37.7946, -122.3950, 13)  # Financial District: linear, factor 0.6, max 3.5
enc = msgspec.json.encode
LA = ZoneInfo("America/Los_Angeles")


@pytest.fixture
def store(sf_settings) -> ConfigStore:
    s = ConfigStore(sf_settings.region, sf_settings.cell_level, sf_settings)
    set_rules(s, rise_confirm_s=0, fall_confirm_s=0, max_change_per_min=600, time_of_day=[])
    return s


def set_rules(store: ConfigStore, **changes) -> None:
    assert store.apply("rules", enc(msgspec.structs.replace(store.current.rules, **changes)))


def set_zone(store: ConfigStore, zone_id: str, **changes) -> None:
    zone = msgspec.structs.replace(store.current.zones[zone_id], **changes)
    assert store.apply(f"zone.{zone_id}", enc(zone))


@pytest.fixture
def core(sf_settings) -> PricingCore:
    return PricingCore(sf_settings.region, sf_settings.timezone, sf_settings.pricing)


def served(result, cell=FIDI, vt="standard"):
    for b in result.batches:
        if b.vehicle_type == vt and cell in b.cells:
            i = b.cells.index(cell)
            return {"multiplier": float(b.multiplier[i]), "old": float(b.old_multiplier[i]),
                    "audit": bool(b.audit[i]), "reason": b.reasons[i], "zone": b.zone_ids[i],
                    "level": DEMAND_LEVELS[b.level[i]], "trend": TRENDS[b.trend[i]], "algorithm": b.algorithms[i]}
    return None


def current(core, cell=FIDI, vt="standard"):
    return float(core.states[vt].pub_multiplier[core.graph.slot[cell]])


def test_spike_rises_then_falls_with_audit(core, store):
    m = PlainMarket()
    m.set(FIDI, supply=2, demand=10)
    r = core.tick(m, store.current, m.advance(1))
    up = served(r)
    assert up["multiplier"] == 3.4  # smoothed ratio 5 (empty neighbours keep it), 1 + 4 * 0.6
    assert up["audit"] and up["reason"] == "rise:market" and up["old"] == 1.0
    assert up["zone"] == "financial_district" and up["algorithm"] == "linear" and up["level"] == "very_high"
    assert served(core.tick(m, store.current, m.advance(1))) is None  # nothing changed: nothing published
    m.set(FIDI, supply=4, demand=0, demand_5m=0)
    down = served(core.tick(m, store.current, m.advance(1)))
    assert down["multiplier"] == 1.0 and down["audit"] and down["reason"].startswith("fall:")


def test_quiet_cells_are_not_published_and_leave_the_live_set(core, store):
    m = PlainMarket()
    m.set(FIDI, supply=3, demand=1)  # ratio < 1: 1.0, level normal
    r = core.tick(m, store.current, m.advance(1))
    first = served(r)
    assert first["multiplier"] == 1.0 and not first["audit"]  # published for its level, no audit
    m.clear(FIDI)
    core.tick(m, store.current, m.advance(1))
    r = core.tick(m, store.current, m.advance(1))
    assert r.priced == 0 and r.updates == 0


def test_demand_without_supply_gives_zone_max_no_data_gives_one(core, store):
    m = PlainMarket()
    m.set(FIDI, supply=0, demand=3)
    assert served(core.tick(m, store.current, m.advance(1)))["multiplier"] == 3.5
    m.set(FIDI, supply=0, demand=0, demand_5m=0)
    assert served(core.tick(m, store.current, m.advance(1)))["multiplier"] == 1.0


def test_hysteresis_and_rate_limit_on_the_tick(core, store):
    set_rules(store, rise_confirm_s=3, fall_confirm_s=10, max_change_per_min=6.0)  # 0.1 per 1 s tick
    m = PlainMarket()
    m.set(FIDI, supply=2, demand=10)
    values = []
    for _ in range(8):
        core.tick(m, store.current, m.advance(1))
        values.append(current(core))
    # held 3 s (ticks at +1, +2, +3 s: confirmed at the 4th), then 0.1 per tick
    assert values == [1.0, 1.0, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5]
    m.set(FIDI, supply=10, demand=0, demand_5m=0)
    for _ in range(10):
        core.tick(m, store.current, m.advance(1))
        assert current(core) == 1.5  # a fall waits 10 s
    core.tick(m, store.current, m.advance(1))
    assert current(core) == 1.4


def test_limits_and_live_config_change_apply_next_tick(core, store):
    m = PlainMarket()
    m.set(FIDI, supply=1, demand=20)
    core.tick(m, store.current, m.advance(1))
    assert current(core) == 3.5
    set_zone(store, "financial_district", max_multiplier=2.0)
    r = core.tick(m, store.current, m.advance(1))
    assert current(core) == 2.0 and served(r)["reason"] == "fall:limits"
    set_rules(store, max_multiplier=1.5)
    core.tick(m, store.current, m.advance(1))
    assert current(core) == 1.5
    set_zone(store, "financial_district", algorithm="exponential", params={"factor": 0.05}, max_multiplier=3.5)
    set_rules(store, max_multiplier=5.0)
    r = core.tick(m, store.current, m.advance(1))
    assert served(r)["algorithm"] == "exponential"
    assert current(core) == pytest.approx(round(np.exp(19 * 0.05), 1))  # 2.6


def test_time_of_day_in_the_region_time_zone(core, store):
    set_rules(store, time_of_day=[TimeOfDayFactor(days=[0, 1, 2, 3, 4], start="17:00", end="18:00", factor=1.3)])
    m = PlainMarket(now=dt.datetime(2026, 11, 2, 16, 59, 58, tzinfo=LA).timestamp())  # a Monday
    m.set(FIDI, supply=10, demand=10)
    core.tick(m, store.current, m.advance(1))
    assert current(core) == 1.0
    r = core.tick(m, store.current, m.advance(2))  # 17:00:01 local
    assert current(core) == 1.3 and served(r)["reason"] == "rise:time_of_day"


def test_signals_apply_until_they_expire(core, store):
    m = PlainMarket()
    m.set(FIDI, supply=10, demand=10)
    core.tick(m, store.current, m.advance(1))
    storm = Signal(id="storm-1", zone_id="financial_district", kind="weather", factor=1.5, reason="rain",
                   expires_at=m.now() + 5)
    assert store.apply("signal.storm-1", enc(storm))
    r = core.tick(m, store.current, m.advance(1))
    assert current(core) == 1.5 and served(r)["reason"] == "rise:signal"
    other = cells.cell_token(37.7599, -122.4148, 13)  # the Mission: not the signal's zone
    m.set(other, supply=10, demand=10)
    core.tick(m, store.current, m.advance(1))
    assert current(core, other) == 1.0
    core.tick(m, store.current, m.advance(5))
    assert current(core) == 1.0


def test_emergency_freeze_and_cap(core, store):
    m = PlainMarket()
    m.set(FIDI, supply=1, demand=20)
    core.tick(m, store.current, m.advance(1))
    assert current(core) == 3.5
    set_rules(store, emergency_mode="freeze", fall_confirm_s=60, max_change_per_min=0.1)
    r = core.tick(m, store.current, m.advance(1))
    assert current(core) == 1.0 and served(r)["reason"] == "fall:emergency_freeze"
    # cap: the fourth-highest daily maximum of the previous 60 days
    today = dt.datetime.fromtimestamp(m.now(), LA).date()
    for days_ago, value in ((1, 3.0), (2, 2.9), (3, 2.8), (4, 1.7), (5, 1.2)):
        core.rollup.observe("financial_district", (today - dt.timedelta(days=days_ago)).isoformat(), value)
    set_rules(store, emergency_mode="cap", fall_confirm_s=0, max_change_per_min=600)
    core.tick(m, store.current, m.advance(1))
    assert current(core) == 1.7
    set_rules(store, emergency_mode="off")
    core.tick(m, store.current, m.advance(1))
    assert current(core) == 3.5


def test_served_changes_feed_the_daily_max_rollup(core, store):
    m = PlainMarket()
    m.set(FIDI, supply=2, demand=10)
    core.tick(m, store.current, m.advance(1))
    day = dt.datetime.fromtimestamp(m.now(), LA).date().isoformat()
    assert core.rollup.days["financial_district"][day] == 3.4


def test_shadow_algorithms_are_computed_never_served(core, store, sf_settings):
    m = PlainMarket()
    m.set(FIDI, supply=2, demand=10)
    plain = PricingCore(sf_settings.region, sf_settings.timezone, sf_settings.pricing)
    baseline = served(plain.tick(m, store.current, m.now() + 1))
    set_rules(store, shadow_algorithms=["exponential", "equilibrium"])
    r = core.tick(m, store.current, m.advance(1))
    assert served(r) == baseline
    names = {s.algorithm for s in r.shadow if s.vehicle_type == "standard"}
    assert names == {"exponential", "equilibrium"}
    exp = next(s for s in r.shadow if s.algorithm == "exponential" and s.vehicle_type == "standard")
    assert exp.cells > 0 and exp.max_abs_diff > 0


def test_equilibrium_state_lives_in_the_engine_per_cell(core, store):
    set_zone(store, "financial_district", algorithm="equilibrium", params={"ki": 0.5})
    m = PlainMarket()
    m.set(FIDI, supply=5, demand=20)
    core.tick(m, store.current, m.advance(1))
    first = current(core)
    for _ in range(10):
        core.tick(m, store.current, m.advance(1))
    state = core.states["standard"].algorithm_state
    key = next(k for k in state if k.startswith("equilibrium"))
    slot = core.graph.slot[FIDI]
    assert np.isfinite(state[key][slot]).all()
    assert 1.0 < first < current(core) <= 3.5


def test_vehicle_types_are_priced_apart(core, store):
    m = PlainMarket()
    m.set(FIDI, "xl", supply=1, demand=3)
    m.set(FIDI, "standard", supply=10, demand=1)
    r = core.tick(m, store.current, m.advance(1))
    assert served(r, vt="xl")["multiplier"] == 2.2
    assert served(r, vt="standard")["multiplier"] == 1.0


def test_trend_and_level_come_with_each_update(core, store):
    m = PlainMarket()
    m.set(FIDI, supply=10, demand=12, demand_5m=20)  # 12/min against 4/min: increasing, ratio 1.2: high
    s = served(core.tick(m, store.current, m.advance(1)))
    assert s["trend"] == "increasing" and s["level"] == "high"


def test_restart_resumes_from_what_is_served(core, store, sf_settings):
    m = PlainMarket()
    m.set(FIDI, supply=2, demand=10)
    core.tick(m, store.current, m.advance(1))
    again = PricingCore(sf_settings.region, sf_settings.timezone, sf_settings.pricing)
    st = core.states["standard"]
    # what the surge bucket holds: every cell the first core published
    entries = [SurgeUpdate(t, core.zone_of(t), "standard", float(st.pub_multiplier[s]), float(st.pub_supply[s]),
                           float(st.pub_demand[s]), DEMAND_LEVELS[st.pub_level[s]], TRENDS[st.pub_trend[s]], "linear",
                           1, "t")
               for t, s in core.graph.slot.items() if st.pub_multiplier[s] > 1.0 or st.pub_level[s]]
    assert again.load_served(entries) == len(entries) > 1
    r = again.tick(m, store.current, m.advance(1))
    assert r.updates == 0  # same market, same prices: nothing to republish


def test_a_reset_core_starts_a_new_term_from_what_is_served(core, store):
    """A node that led before, lost the lease and leads again: its old per-cell state goes, what the region
    serves comes back, and the next tick republishes nothing that did not change."""
    m = PlainMarket()
    m.set(FIDI, supply=2, demand=10)
    core.tick(m, store.current, m.advance(1))
    st = core.states["standard"]
    entries = [SurgeUpdate(t, core.zone_of(t), "standard", float(st.pub_multiplier[s]), float(st.pub_supply[s]),
                           float(st.pub_demand[s]), DEMAND_LEVELS[st.pub_level[s]], TRENDS[st.pub_trend[s]], "linear",
                           1, "t")
               for t, s in core.graph.slot.items() if st.pub_multiplier[s] > 1.0 or st.pub_level[s]]
    core.reset()
    assert core.states == {} and core.last_tick is None
    assert core.load_served(entries) == len(entries) > 1
    assert current(core) == 3.4
    assert core.tick(m, store.current, m.advance(1)).updates == 0
    core.republish(FIDI, "standard")  # a late write of an older term overwrote it: published again
    again = served(core.tick(m, store.current, m.advance(1)))
    assert again is not None and again["multiplier"] == 3.4 and not again["audit"]


def test_engine_logs_a_shadow_summary(monkeypatch, caplog, sf_settings, store):
    import logging

    from equilibrium_node.pricing import engine as engine_mod
    from equilibrium_node.pricing.core import ShadowSummary, TickResult

    monkeypatch.setattr(engine_mod, "SHADOW_LOG_S", 0.0)
    eng = engine_mod.PricingEngine.__new__(engine_mod.PricingEngine)
    eng._shadow, eng._last_shadow_log = {}, 0.0
    result = TickResult(0.0, [], 10, 5, [ShadowSummary("exponential", "standard", 10, 1.5, 1.8, 0.9)])
    with caplog.at_level(logging.INFO, logger="equilibrium_node.pricing.engine"):
        eng._account_shadow(result)
    record = next(r for r in caplog.records if r.getMessage() == "shadow_pricing")
    assert record.eq_fields["algorithm"] == "exponential" and record.eq_fields["mean_shadow_target"] == 1.8


SPOTS = [(37.7946, -122.3950), (37.7700, -122.3900), (37.7800, -122.4100), (37.7599, -122.4148),
         (37.8020, -122.4380), (37.7560, -122.4350), (37.62, -122.38), (37.70, -122.47)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), algorithm=st.sampled_from(["linear", "exponential", "equilibrium", "ml"]),
       rate=st.floats(0.5, 30), global_max=st.floats(1.2, 5))
def test_tick_properties_bounds_and_bounded_steps(sf_settings, data, algorithm, rate, global_max):
    """Whatever the market does: every served multiplier stays within its zone's range under the global
    cap, and moves by at most the rate limit per tick (plus one rounding step) from the previous value
    brought inside the limits (a floor or a cap applies at once)."""
    store = ConfigStore(sf_settings.region, sf_settings.cell_level, sf_settings)
    set_rules(store, rise_confirm_s=0, fall_confirm_s=0, max_change_per_min=rate, time_of_day=[],
              max_multiplier=global_max)
    params = {"linear": {"factor": 0.7}, "exponential": {"factor": 0.5}, "equilibrium": {}, "ml": {}}[algorithm]
    set_zone(store, "soma", algorithm=algorithm, params=params, min_multiplier=1.2, max_multiplier=2.5)
    core = PricingCore(sf_settings.region, sf_settings.timezone, sf_settings.pricing)
    m = PlainMarket()
    tokens = [cells.cell_token(lat, lng, 13) for lat, lng in SPOTS]
    previous: dict[tuple[str, str], float] = {}
    for _ in range(data.draw(st.integers(2, 6))):
        for t in tokens:
            m.set(t, supply=data.draw(st.integers(0, 20)), demand=data.draw(st.floats(0, 80)))
        result = core.tick(m, store.current, m.advance(1.0))
        for b in result.batches:
            for cell, zone_id, mult in zip(b.cells, b.zone_ids, b.multiplier.tolist(), strict=True):
                zone = store.current.zones.get(zone_id)
                lo, hi = (zone.min_multiplier, zone.max_multiplier) if zone else (1.0, 3.0)
                ceiling = min(hi, global_max)
                assert mult <= ceiling + 1e-9
                assert mult >= min(lo, ceiling) - 0.1 - 1e-9  # rounding never goes under a floor by a step
                # limits are hard and apply at once; inside them the step is bounded
                old = min(max(previous.get((b.vehicle_type, cell), 1.0), min(lo, ceiling)), ceiling)
                assert abs(mult - old) <= rate / 60 * 1.0 + 0.1 + 1e-9
                previous[(b.vehicle_type, cell)] = mult

"""Scenarios laid out over a run."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from equilibrium_node.errors import ConfigError
from equilibrium_node.sim.scenarios import SCENARIOS, get_scenario

TZ = ZoneInfo("America/Los_Angeles")


def test_concert_ten_times_in_two_cells_for_twenty_minutes():
    s = get_scenario("concert")
    assert s.hot_factor == 10.0 and len(s.hot_points) == 2
    plan = s.plan(120, TZ)
    assert plan.hot == (40 * 60, 60 * 60) and plan.event == plan.hot and plan.outage is None
    assert not plan.hot_active(39 * 60) and plan.hot_active(40 * 60) and not plan.hot_active(60 * 60)
    assert dt.datetime.fromtimestamp(plan.start_epoch, TZ).strftime("%a %H:%M") == "Sat 21:00"
    short = s.plan(45, TZ)  # a short run keeps the shape: a third in, 20 minutes
    assert short.hot == (15 * 60, 35 * 60)


def test_outage_stops_pricing_for_26_minutes_at_the_peak():
    plan = get_scenario("outage").plan(120, TZ)
    assert plan.outage == (40 * 60, 66 * 60) and plan.event == plan.outage
    assert plan.pricing_down(50 * 60) and not plan.pricing_down(30 * 60) and not plan.pricing_down(66 * 60)
    assert plan.level(40 * 60) == max(plan.level_v) > 2 * plan.level(0)  # the peak
    start = dt.datetime.fromtimestamp(plan.start_epoch, TZ)
    assert (start.month, start.day, start.hour) == (12, 31, 23)  # New Year's Eve


def test_rush_hour_peak_and_steady():
    plan = get_scenario("rush_hour").plan(120, TZ)
    assert plan.event == (40 * 60, 80 * 60) and plan.level(60 * 60) == pytest.approx(1.8)
    assert plan.level(0) == pytest.approx(0.9) and plan.level(-600) == pytest.approx(0.9)  # warm-up: first level
    steady = get_scenario("steady").plan(60, TZ)
    assert steady.event is None and steady.level(1234) == 1.0 and not steady.pricing_down(10)


def test_unknown_scenario_names_the_choices():
    with pytest.raises(ConfigError) as err:
        get_scenario("concrt")
    assert "available: " + ", ".join(SCENARIOS) in err.value.message and "did you mean 'concert'" in err.value.message

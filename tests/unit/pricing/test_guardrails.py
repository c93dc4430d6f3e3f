"""Each guardrail on its own, and the properties the tick relies on."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from equilibrium_node.pricing import derive
from equilibrium_node.pricing import guardrails as g
from equilibrium_node.settings import Rules, TimeOfDayFactor

LA = ZoneInfo("America/Los_Angeles")
a = np.array


def test_the_order_is_fixed_and_documented():
    assert g.STEPS == ("no_data", "time_of_day", "signals", "zone_limits", "global_max", "neighbor_gap",
                       "hysteresis", "max_change", "rounding", "emergency")
    for i, step in enumerate(g.STEPS, 1):
        assert f"{i:>2}  ``{step}``" in g.__doc__


def test_no_data_gives_one_never_maximum_scarcity():
    out, empty = g.no_data(a([3.0, 3.0, 2.0]), a([0.0, 0.0, 5.0]), a([0.0, 4.0, 0.0]))
    assert out.tolist() == [1.0, 3.0, 2.0]
    assert empty.tolist() == [True, False, False]


def test_time_of_day_uses_the_region_local_time_and_overnight_ranges():
    rush = [TimeOfDayFactor(days=[0, 1, 2, 3, 4], start="07:00", end="09:30", factor=1.1),
            TimeOfDayFactor(days=[4], start="22:00", end="02:00", factor=1.2)]
    # Monday 2026-11-02 08:00 in Los Angeles is 16:00 UTC
    monday_8 = dt.datetime(2026, 11, 2, 16, 0, tzinfo=dt.UTC).timestamp()
    assert g.time_of_day_factor(rush, g.local_time(monday_8, LA)) == pytest.approx(1.1)
    assert g.time_of_day_factor(rush, g.local_time(monday_8, ZoneInfo("UTC"))) == 1.0  # 16:00 UTC: no rush
    saturday_1am = dt.datetime(2026, 11, 7, 1, 0, tzinfo=LA).timestamp()  # started Friday 22:00
    assert g.time_of_day_factor(rush, g.local_time(saturday_1am, LA)) == pytest.approx(1.2)
    sunday_1am = dt.datetime(2026, 11, 8, 1, 0, tzinfo=LA).timestamp()
    assert g.time_of_day_factor(rush, g.local_time(sunday_1am, LA)) == 1.0
    assert g.time_of_day_factor(rush, g.local_time(dt.datetime(2026, 11, 2, 9, 30, tzinfo=LA).timestamp(), LA)) == 1.0


def test_factors_skip_cells_without_data():
    assert g.apply_factor(a([1.0, 2.0]), 1.5, a([True, False])).tolist() == [1.0, 3.0]


def _targets(raw, supply=5.0, demand=5.0, tod=1.0, signal=1.0, lo=1.0, hi=3.0, global_max=5.0):
    n = len(raw)
    return derive.targets(a(raw, dtype=float), np.full(n, supply), np.full(n, demand), tod, np.full(n, signal),
                          np.full(n, lo), np.full(n, hi), global_max)


def test_stateless_order_factors_before_limits():
    # a 2.5 market with a 1.1 rush and a 1.3 storm would be 3.575: the zone cap 3.0 still holds
    t = _targets([2.5], tod=1.1, signal=1.3)
    assert t.time_of_day[0] == pytest.approx(2.75)
    assert t.signals[0] == pytest.approx(3.575)
    assert t.zone_limits[0] == 3.0
    # the global cap below the zone cap wins
    assert _targets([2.5], hi=4.0, global_max=2.0).global_max[0] == 2.0
    # a no-data cell takes no factor: 1.0 stays 1.0 through a rush hour and a storm
    assert _targets([3.0], supply=0.0, demand=0.0, tod=1.1, signal=1.5).global_max[0] == 1.0
    # a zone floor lifts a calm cell
    assert _targets([1.0], lo=1.2).zone_limits[0] == 1.2
    # a plugin's NaN never reaches a rider
    assert _targets([float("nan")]).global_max[0] == 1.0


def test_hysteresis_rise_waits_fall_waits_longer():
    target, value = a([2.0]), a([1.0])
    pending, since = np.zeros(1, dtype=np.int8), a([np.nan])
    goal, pending, since = g.hysteresis(target, value, pending, since, 100.0, 3.0, 10.0, a([0.05]))
    assert goal[0] == 1.0 and pending[0] == 1 and since[0] == 100.0
    goal, pending, since = g.hysteresis(target, value, pending, since, 102.9, 3.0, 10.0, a([0.05]))
    assert goal[0] == 1.0  # not yet held 3 s
    goal, pending, since = g.hysteresis(target, value, pending, since, 103.0, 3.0, 10.0, a([0.05]))
    assert goal[0] == 2.0
    # a dip resets the timer
    goal, pending, since = g.hysteresis(a([0.5]), value, pending, since, 104.0, 3.0, 10.0, a([0.05]))
    assert pending[0] == -1 and since[0] == 104.0 and goal[0] == 1.0
    goal, _, _ = g.hysteresis(a([0.5]), value, pending, since, 113.9, 3.0, 10.0, a([0.05]))
    assert goal[0] == 1.0
    goal, _, _ = g.hysteresis(a([0.5]), value, pending, since, 114.0, 3.0, 10.0, a([0.05]))
    assert goal[0] == 0.5


def test_hysteresis_ignores_moves_under_half_a_step():
    goal, pending, _ = g.hysteresis(a([1.04]), a([1.0]), np.zeros(1, np.int8), a([np.nan]), 0.0, 0.0, 0.0, a([0.05]))
    assert goal[0] == 1.0 and pending[0] == 0


def test_max_change_bounds_the_step_and_applies_lowered_limits_at_once():
    out = g.max_change(a([1.0, 3.0, 4.0]), a([3.0, 1.0, 4.0]), a([1.0, 1.0, 1.0]), 1.5, a([1.0] * 3),
                       a([5.0, 5.0, 2.0]))
    assert out.tolist() == pytest.approx([1.025, 2.975, 2.0])


def test_rounding_half_up_within_limits():
    out = g.round_to_step(a([1.04, 1.05, 1.349, 3.46, 1.0]), a([0.1, 0.1, 0.25, 0.1, 0.5]), a([1.0] * 5),
                          a([5.0, 5.0, 5.0, 3.45, 5.0]))
    assert out.tolist() == [1.0, 1.1, 1.25, 3.4, 1.0]


def test_emergency_freeze_and_cap():
    served, step = a([2.3, 1.0, 1.8]), a([0.1, 0.1, 0.25])
    assert g.emergency(served, "freeze", a([9.0] * 3), step).tolist() == [1.0, 1.0, 1.0]
    assert g.emergency(served, "cap", a([1.84, 1.84, 1.84]), step).tolist() == [1.8, 1.0, 1.75]
    assert g.emergency(served, "off", a([1.0] * 3), step).tolist() == served.tolist()


def _rules(**kw) -> Rules:
    return msgspec.structs.replace(Rules(), **kw)


def test_emergency_comes_after_the_temporal_steps():
    # freeze drops at once, however slow the ramp (max_change 1.5/min would take 80 s)
    r = _rules(emergency_mode="freeze", fall_confirm_s=10.0)
    s = derive.serve(a([3.0]), a([3.0]), np.zeros(1, np.int8), a([np.nan]), 0.0, r, a([1.0]), a([1.0]), a([3.0]),
                     a([0.1]), a([3.0]))
    assert s.rounding[0] == 3.0 and s.emergency[0] == 1.0 and s.value[0] == 1.0


@settings(max_examples=300, deadline=None)
@given(target=st.floats(0.5, 8), value=st.floats(1, 5), lo=st.floats(1, 2), width=st.floats(0, 3),
       dt_s=st.floats(0, 5), rate=st.floats(0.1, 10), step=st.sampled_from([0.05, 0.1, 0.25, 0.5]),
       mode=st.sampled_from(["off", "cap", "freeze"]), cap=st.floats(1, 4),
       pending=st.sampled_from([-1, 0, 1]), held=st.floats(0, 20))
def test_served_value_is_bounded_and_its_step_is_bounded(target, value, lo, width, dt_s, rate, step, mode, cap,
                                                        pending, held):
    hi = lo + width
    value = min(max(value, lo), hi)
    r = _rules(max_change_per_min=rate, rise_confirm_s=3.0, fall_confirm_s=10.0, emergency_mode=mode)
    s = derive.serve(a([target]), a([value]), a([pending], dtype=np.int8), a([100.0 - held]), 100.0, r, a([dt_s]),
                     a([lo]), a([hi]), a([step]), a([cap]))
    served = s.emergency[0]
    fits = np.ceil(lo / step - 1e-9) * step <= hi + 1e-9  # some step lies within [lo, hi]
    assert served <= hi + 1e-9  # never above the ceiling
    if mode == "off":
        assert served >= (lo if fits else lo - step) - 1e-9  # never below the floor (when a step fits)
        # the exact value moved by at most rate * dt / 60; the served one is within half a rounding step
        # of it (a whole step where a limit off the step grid forces rounding down)
        assert abs(s.max_change[0] - value) <= rate * dt_s / 60 + 1e-9
        if fits:
            assert abs(served - s.max_change[0]) <= step + 1e-9
    if mode == "cap":
        assert served <= max(cap, 1.0) + 1e-9
    if mode == "freeze":
        assert served == 1.0

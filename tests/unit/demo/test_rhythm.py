"""The demo's daily rhythm and hotspots: pure rate functions."""

from __future__ import annotations

import numpy as np
import pytest

from equilibrium_node.demo.rhythm import (
    GAME_FIRST_S,
    GAME_LENGTH_S,
    GAME_TAU_S,
    PROFILES,
    SF_PLACES,
    Rhythm,
    game_factor,
    online_share,
    profile_at,
    rush_factor,
)


def test_profiles_interpolate_and_wrap_at_midnight():
    values = PROFILES["business"]
    assert profile_at(values, 17.0) == values[17]
    assert profile_at(values, 17.5) == pytest.approx((values[17] + values[18]) / 2)
    assert profile_at(values, 23.5) == pytest.approx((values[23] + values[0]) / 2)
    assert profile_at(values, 24.0 + 3.0) == values[3]
    assert all(len(v) == 24 for v in PROFILES.values())
    assert {p.profile for p in SF_PLACES} <= set(PROFILES)


def test_evening_rush_is_a_bump_between_half_past_four_and_half_past_seven():
    assert rush_factor(12.0) == 0.0 and rush_factor(16.4) == 0.0 and rush_factor(19.6) == 0.0
    assert rush_factor(17.75) == pytest.approx(1.0)
    assert 0.0 < rush_factor(17.0) < 1.0 and 0.0 < rush_factor(19.0) < 1.0
    hours = np.linspace(16.5, 17.75, 20)
    assert list(map(rush_factor, hours)) == sorted(map(rush_factor, hours))  # rises to the peak


def test_games_let_out_on_schedule_and_fade():
    every = 15 * 60.0
    assert game_factor(GAME_FIRST_S - 1, every) == 0.0
    assert game_factor(GAME_FIRST_S + GAME_TAU_S, every) == pytest.approx(1.0)  # the crowd peaks
    assert game_factor(GAME_FIRST_S + GAME_TAU_S * 4, every) < 0.3  # and fades
    assert game_factor(GAME_FIRST_S + GAME_LENGTH_S + 1, every) == 0.0
    assert game_factor(GAME_FIRST_S + every + GAME_TAU_S, every) == pytest.approx(1.0)  # the next game
    assert game_factor(GAME_FIRST_S + GAME_TAU_S, 0.0) == 0.0  # games off


def test_daily_rhythm_peaks_at_the_configured_rate():
    rhythm = Rhythm(riders_per_min=600, start_hour=0.0, speedup=1.0, game_every_min=0)
    totals = [rhythm.place_rates(h / 10).sum() * 60 for h in range(240)]
    assert max(totals) == pytest.approx(600, rel=1e-9)
    evening, night = rhythm.place_rates(18.0).sum(), rhythm.place_rates(4.0).sum()
    assert evening > 3 * night
    assert online_share(18.0) > 2 * online_share(4.0)


def test_rates_add_the_hotspots_to_the_places():
    rush_hour = Rhythm(riders_per_min=600, start_hour=17.75, speedup=1.0, game_every_min=15)
    noon = Rhythm(riders_per_min=600, start_hour=12.0, speedup=1.0, game_every_min=15)
    names = [p.name for p in rush_hour.sources]
    rush, game = names.index("financial_district_rush"), names.index("oracle_park_game")
    assert rush_hour.rates(0.0)[rush] > 0 and noon.rates(0.0)[rush] == 0
    assert rush_hour.rates(0.0)[game] == 0  # no game yet
    assert rush_hour.rates(GAME_FIRST_S + GAME_TAU_S)[game] > 0
    assert len(rush_hour.rates(0.0)) == len(SF_PLACES) + 2


def test_speedup_runs_the_simulated_clock_faster():
    rhythm = Rhythm(riders_per_min=600, start_hour=23.0, speedup=60.0, game_every_min=0)
    assert rhythm.hour(0.0) == 23.0
    assert rhythm.hour(60.0) == pytest.approx(0.0)  # an hour a minute: past midnight
    assert rhythm.hour(90.0) == pytest.approx(0.5)

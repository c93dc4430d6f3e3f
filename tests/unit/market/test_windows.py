"""The pure time rules: windows, too old, out of order, kind ranking, weights, evaluation time."""

from __future__ import annotations

import math

from equilibrium_node.market import windows as w


def test_window_is_half_open():
    assert w.in_window(100.0, 159.999, 60.0)
    assert not w.in_window(100.0, 160.0, 60.0)
    assert w.expired(100.0, 160.0, 60.0)
    assert w.in_window(100.0, 100.0, 60.0)


def test_too_old_is_relative_to_stream_time():
    assert not w.too_old(1000.0, 700.0, 300.0)
    assert w.too_old(1000.0, 699.9, 300.0)
    assert not w.too_old(1000.0, 5000.0, 300.0)  # a device clock ahead is not "too old"


def test_effective_time_clamps_device_clocks_that_run_ahead():
    assert w.effective_time(90.0, 100.0) == 90.0
    assert w.effective_time(500.0, 100.0) == 100.0
    assert w.supersedes(100.0, 100.0)  # ties: the later one in the stream wins
    assert not w.supersedes(99.0, 100.0)


def test_kind_ranking_follows_weights_with_contract_tiebreak():
    assert w.kind_ranking((1.0, 1.5, 3.0)) == (0, 1, 2)  # request > quote > app_open
    assert w.kind_ranking((2.0, 1.0, 0.5)) == (2, 1, 0)  # a config that values app opens most
    assert w.kind_ranking((1.0, 1.0, 1.0)) == (0, 1, 2)  # equal weights: the contract's order


def test_best_kind_is_the_strongest_signal_still_in_the_window():
    rank = (0, 1, 2)
    times = [50.0, -math.inf, 0.0]  # app_open at 50, request at 0
    assert w.best_kind(times, 59.0, 60.0, rank) == 2
    assert w.best_kind(times, 60.0, 60.0, rank) == 0  # the request left the minute, the app open did not
    assert w.best_kind(times, 110.0, 60.0, rank) == w.NO_KIND
    assert w.best_kind(times, 110.0, 300.0, rank) == 2


def test_weighted_demand_and_evaluation_time():
    assert w.weighted_demand([2, 1, 1], (1.0, 1.5, 3.0)) == 2 * 1.0 + 1.5 + 3.0
    assert w.evaluation_time(100.0, 200.0, caught_up=False) == 100.0
    assert w.evaluation_time(100.0, 200.0, caught_up=True) == 200.0
    assert w.evaluation_time(300.0, 200.0, caught_up=True) == 300.0  # never behind the stream

"""The simulated market answers the pricing core as the node's market state would."""

from __future__ import annotations

import numpy as np
import pytest

from equilibrium_node.sim.market import SimMarket

TOKENS = ["8085807c", "80858084", "8085808c"]


def test_supply_on_trip_and_demand_windows():
    m = SimMarket(TOKENS, step_s=5.0)
    assert m.windows == (12, 60)
    for k in range(70):  # one request (weight 3) in cell 0 every step, a quote (1.5) in cell 2 in step 0 only
        demand = np.array([3.0, 0.0, 1.5 if k == 0 else 0.0])
        m.update(1000.0 + 5 * k, np.array([0, 0, 1]), np.array([2]), demand)
        a = m.cell_arrays(TOKENS, "standard")
        assert a.supply.tolist() == [2.0, 1.0, 0.0] and a.on_trip.tolist() == [0.0, 0.0, 1.0]
        assert a.demand_1m[0] == 3.0 * min(k + 1, 12)  # the last 60 s: 12 steps
        assert a.demand_5m[0] == 3.0 * min(k + 1, 60)
        # the quote at t=1000 is in (now - 60, now] for steps 0..11 and in the 5-minute window for 0..59
        assert a.demand_1m[2] == (1.5 if k < 12 else 0.0)
        assert a.demand_5m[2] == (1.5 if k < 60 else 0.0)
    stats = m.cell_stats(TOKENS[0], "standard")
    assert (stats.supply, stats.on_trip, stats.demand_1m, stats.demand_5m) == (2, 0, 36.0, 180.0)


def test_unknown_cells_are_empty():
    m = SimMarket(TOKENS, step_s=5.0)
    m.update(1.0, np.array([0]), np.array([], dtype=np.int64), np.zeros(3))
    a = m.cell_arrays(["89c25", TOKENS[0]], "standard")
    assert a.supply.tolist() == [0.0, 1.0]
    assert m.cell_stats("89c25", "standard").supply == 0
    assert m.driver("d1") is None


def test_changed_since_in_city_order():
    m = SimMarket(TOKENS, step_s=5.0)
    m.update(1.0, np.array([2, 0]), np.array([], dtype=np.int64), np.zeros(3))
    cells, v1 = m.changed_since(0)
    assert cells == [TOKENS[0], TOKENS[2]]  # a list in a fixed order, whatever the hash seed
    m.update(2.0, np.array([2, 0]), np.array([], dtype=np.int64), np.array([0.0, 3.0, 0.0]))
    assert m.changed_since(v1) == ([TOKENS[1]], v1 + 1)
    m.update(3.0, np.array([2, 0]), np.array([], dtype=np.int64), np.zeros(3))
    assert m.changed_since(v1 + 1)[0] == []  # the request stays in both windows: nothing changed
    assert m.changed_since(0)[0] == TOKENS
    assert m.now() == 3.0 and m.applied_seq == 3
    assert sorted(m.active_cells()) == sorted(TOKENS)


@pytest.mark.parametrize("step", [1.0, 5.0, 15.0])
def test_window_lengths_follow_the_step(step):
    assert SimMarket(TOKENS, step_s=step).windows == (round(60 / step), round(300 / step))

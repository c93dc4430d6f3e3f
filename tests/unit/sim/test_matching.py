"""Nearest-first dispatch: the vectorised rounds give exactly the sequential greedy matching."""

from __future__ import annotations

import numpy as np
import pytest

from equilibrium_node.sim.matching import match_nearest


def greedy(rx, ry, dx, dy, reach):
    """The reference: repeatedly take the closest remaining pair within reach (ties: lower indices)."""
    pairs = sorted((float(np.hypot(rx[i] - dx[j], ry[i] - dy[j])), i, j) for i in range(len(rx))
                   for j in range(len(dx)))
    used_r, used_d, out = set(), set(), {}
    for d, i, j in pairs:
        if d <= reach[i] and i not in used_r and j not in used_d:
            used_r.add(i)
            used_d.add(j)
            out[i] = (j, d)
    return out


@pytest.mark.parametrize("seed", range(12))
def test_rounds_equal_the_sequential_greedy(seed):
    rng = np.random.default_rng(seed)
    r, d = int(rng.integers(1, 40)), int(rng.integers(1, 60))
    rx, ry = rng.uniform(0, 5000, r), rng.uniform(0, 5000, r)
    dx, dy = rng.uniform(0, 5000, d), rng.uniform(0, 5000, d)
    reach = rng.uniform(300, 3000, r) if seed % 2 else np.full(r, 1500.0)
    m = match_nearest(rx, ry, dx, dy, reach if seed % 2 else 1500.0)
    got = {int(i): (int(j), float(v)) for i, j, v in zip(m.requests, m.drivers, m.distance_m, strict=True)}
    want = greedy(rx, ry, dx, dy, reach)
    assert got.keys() == want.keys()
    for i, (j, v) in want.items():
        assert got[i][0] == j and got[i][1] == pytest.approx(v)


def test_each_driver_and_request_at_most_once_and_within_reach():
    rng = np.random.default_rng(7)
    rx, ry = rng.uniform(0, 1000, 200), rng.uniform(0, 1000, 200)
    dx, dy = rng.uniform(0, 1000, 50), rng.uniform(0, 1000, 50)
    m = match_nearest(rx, ry, dx, dy, 200.0)
    assert len(set(m.requests.tolist())) == len(m.requests) and len(set(m.drivers.tolist())) == len(m.drivers)
    assert (m.distance_m <= 200.0).all()
    assert np.allclose(m.distance_m, np.hypot(rx[m.requests] - dx[m.drivers], ry[m.requests] - dy[m.drivers]))


def test_nothing_in_reach_or_nobody_there():
    one = np.array([0.0])
    assert len(match_nearest(one, one, one + 500, one, 100.0).requests) == 0
    assert len(match_nearest(np.zeros(0), np.zeros(0), one, one, 100.0).requests) == 0
    assert len(match_nearest(one, one, np.zeros(0), np.zeros(0), 100.0).requests) == 0


def test_the_driver_goes_to_its_nearest_request():
    # two requests, one driver between them but closer to the second
    m = match_nearest(np.array([0.0, 100.0]), np.zeros(2), np.array([70.0]), np.zeros(1), 1000.0)
    assert m.requests.tolist() == [1] and m.drivers.tolist() == [0]

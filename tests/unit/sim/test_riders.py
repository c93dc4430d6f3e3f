"""Riders: the price response, the arrivals, the waiting queue."""

from __future__ import annotations

import numpy as np
import pytest

from equilibrium_node.sim.city import City
from equilibrium_node.sim.model import MarketModel
from equilibrium_node.sim.riders import Queue, arrivals, request_probability


def test_request_probability_falls_with_price_at_the_elasticity():
    p = request_probability(np.array([0.8, 1.0, 1.5, 2.0, 4.0]), -0.6)
    assert p[0] == 1.0 and p[1] == 1.0
    assert p[2:] == pytest.approx([1.5**-0.6, 2.0**-0.6, 4.0**-0.6])
    assert (np.diff(p[1:]) < 0).all()
    assert request_probability(np.array([3.0]), 0.0)[0] == 1.0  # perfectly inelastic riders


def test_arrivals_follow_the_rates_and_the_seed(sf_settings):
    city = City(sf_settings, 3.0)
    model = MarketModel()
    rate = np.zeros(len(city))
    rate[[3, 7]] = [50.0, 5.0]
    dest = city.weight / city.weight.sum()
    a = arrivals(city, rate, dest, model, np.random.default_rng(1))
    b = arrivals(city, rate, dest, model, np.random.default_rng(1))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))  # deterministic for a seed
    # jitter may carry a pickup over a cell edge, but it stays next to its cell
    centre = np.hypot(a.x - city.cx[3], a.y - city.cy[3]).min()
    assert 30 < len(a) < 80 and centre < city.cell_side_m
    assert ((a.patience_s >= model.patience_min_s) & (a.patience_s <= model.patience_max_s)).all()
    assert ((a.draw >= 0) & (a.draw < 1)).all()


def test_queue_add_remove_expire():
    q = Queue()
    q.add(id=np.array([1, 2, 3]), cell=np.array([0, 0, 1]), x=np.zeros(3), y=np.zeros(3), dest_x=np.zeros(3),
          dest_y=np.zeros(3), t_request=np.zeros(3), deadline=np.array([10.0, 30.0, 20.0]), multiplier=np.ones(3))
    assert len(q) == 3
    assert q.expired(20.0).tolist() == [0, 2]
    q.remove(q.expired(20.0))
    assert q["id"].tolist() == [2] and q["id"].dtype == np.int64

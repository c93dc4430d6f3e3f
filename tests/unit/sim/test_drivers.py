"""Drivers: trips, earnings, logging in and off, chasing higher multipliers."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest

from equilibrium_node.sim.city import City
from equilibrium_node.sim.drivers import IDLE, OFFLINE, PICKUP, TRIP, Drivers
from equilibrium_node.sim.model import MarketModel


@pytest.fixture
def city(sf_settings):
    return City(sf_settings, 3.0)


def fleet(city, n=200, seed=1, **model):
    return Drivers(MarketModel(drivers=n, **model), city, 32.0, np.random.default_rng(seed))


def test_pickup_then_trip_then_idle_at_the_dropoff_with_pay(city):
    d = fleet(city, online_share=1.0)
    row = np.array([0])
    x0, y0 = d.x[0], d.y[0]
    d.dispatch(row, np.array([x0 + 1000]), np.array([y0]), np.array([120.0]), 0.0, np.array([x0 + 1000]),
               np.array([y0 + 3000]), np.array([600.0]), np.array([15.0]))
    assert d.status[0] == PICKUP
    d.advance(60.0)
    assert d.x[0] == pytest.approx(x0 + 500)  # half-way to the pickup
    d.advance(120.0)
    assert d.status[0] == TRIP and d.x[0] == pytest.approx(x0 + 1000)
    d.advance(420.0)
    assert d.y[0] == pytest.approx(y0 + 1500)  # half-way through the trip
    _picked, done, pay = d.advance(720.0)
    assert d.status[0] == IDLE and done.tolist() == [0] and pay.tolist() == [15.0] and d.earned == 15.0
    assert (d.x[0], d.y[0]) == pytest.approx((x0 + 1000, y0 + 3000))
    assert d.cell[0] == city.cell_of(d.x[:1], d.y[:1])[0]


def test_a_short_trip_ends_in_the_step_its_pickup_does(city):
    d = fleet(city, online_share=1.0)
    x, y = d.x[:1].copy(), d.y[:1].copy()
    d.dispatch(np.array([0]), x, y, np.array([10.0]), 0.0, x + 100, y, np.array([20.0]), np.array([5.0]))
    picked, done, _pay = d.advance(60.0)
    assert picked.tolist() == [0] and done.tolist() == [0]
    assert d.status[0] == IDLE and d.x[0] == pytest.approx(x[0] + 100)


def test_low_earnings_log_drivers_off_and_surge_logs_them_in(city):
    d = fleet(city, n=4000, online_share=0.5, session_s=3600.0, login_s=3600.0)
    online = (d.status != OFFLINE).sum()
    d.earn_rate[:] = 5.0  # far below every reservation wage: idle drivers leave twice as fast
    _, off = d.shift(60.0, 1.0)
    assert off > 0.8 * 2 * 60 / 3600 * online
    calm, _ = fleet(city, n=4000, online_share=0.5, login_s=3600.0).shift(60.0, 1.0)
    surge, _ = fleet(city, n=4000, online_share=0.5, login_s=3600.0).shift(60.0, 2.0)
    assert surge > 2.5 * calm  # (expected / reservation) ** 2: four times the logins at 2.0x


def test_idle_drivers_move_toward_a_higher_multiplier(city):
    d = fleet(city, n=2000, online_share=1.0, reposition_check_s=5.0)
    served = np.ones(len(city))
    hot = int(np.argmax(city.weight))
    assert d.reposition(5.0, served, 0.0, 12) == 0  # nothing to chase at 1.0 everywhere
    served[hot] = 3.0
    moved = d.reposition(5.0, served, 0.0, 12)
    assert moved > 0
    movers = np.flatnonzero(d.moving)
    target = np.hypot(d.x1[movers] - city.cx[hot], d.y1[movers] - city.cy[hot])
    assert (target <= city.cell_side_m).all()  # all of them head into the hot cell
    assert (d.status[movers] == IDLE).all()  # and stay available on the way
    near = np.hypot(city.cx[d.cell] - city.cx[hot], city.cy[d.cell] - city.cy[hot]) <= 3000
    assert not d.moving[~near].any()  # only from cells within the reposition radius (3 km)
    d.advance(d.t1[movers].max())
    assert not d.moving.any()


def test_running_earnings_follow_income(city):
    d = fleet(city, n=10, online_share=1.0, earnings_memory_s=600.0)
    d.earn_rate[:] = 0.0
    for _ in range(600):  # $1 per 5 s step for driver 0 = $720/h; nothing for the others
        d.account(5.0, np.array([0]), np.array([1.0]))
    assert d.earn_rate[0] == pytest.approx(720.0, rel=0.01) and d.earn_rate[1] == 0.0


def test_scaled_model_keeps_the_ratio():
    m = MarketModel().scaled(0.3)
    assert m.drivers == 1500 and m.riders_per_min == pytest.approx(MarketModel().riders_per_min * 0.3)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"elasticity": 0.5}, MarketModel)

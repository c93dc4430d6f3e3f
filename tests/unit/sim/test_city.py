"""The simulated city: the SF core, its cells from the vectorised S2, the flat map."""

from __future__ import annotations

import numpy as np
import pytest

from equilibrium_node.geo import cells
from equilibrium_node.sim.city import City
from equilibrium_node.sim.scenarios import VENUES


@pytest.fixture(scope="module")
def city():
    from equilibrium_node.__main__ import BUNDLED_CONFIG
    from equilibrium_node.settings import load_settings

    return City(load_settings(BUNDLED_CONFIG, env={}), zone_weight=3.0)


def test_bounds_cover_the_city_not_the_airport(city):
    lat_lo, lng_lo, lat_hi, lng_hi = city.bounds
    assert lat_lo > 37.70 and lat_hi > 37.81  # SFO (37.6) is 19 km away: outside
    for lat, lng in VENUES:
        assert lat_lo < lat < lat_hi and lng_lo < lng < lng_hi
    assert 100 < len(city) < 200  # level-13 cells of about 1.3 km2
    assert city.in_zone.sum() > 20 and set(np.unique(city.weight)) == {1.0, 3.0}


def test_cells_of_points_are_the_nodes_cells(city):
    rng = np.random.default_rng(3)
    x = rng.uniform(city.x_lo, city.x_hi, 500)
    y = rng.uniform(city.y_lo, city.y_hi, 500)
    lat, lng = city.to_latlng(x, y)
    idx = city.cell_of(x, y)
    assert [city.tokens[i] for i in idx] == [cells.cell_token(a, b, city.level) for a, b in zip(lat, lng, strict=True)]


def test_projection_round_trip_and_distances(city):
    lat, lng = np.array([37.7786, 37.7680]), np.array([-122.3893, -122.3877])
    x, y = city.to_xy(lat, lng)
    back = city.to_latlng(x, y)
    assert np.allclose(back[0], lat) and np.allclose(back[1], lng)
    assert float(np.hypot(x[1] - x[0], y[1] - y[0])) == pytest.approx(cells.distance_m(lat[0], lng[0], lat[1], lng[1]),
                                                                      rel=1e-4)


def test_points_in_cells_stay_close_and_inside(city):
    rng = np.random.default_rng(1)
    idx = np.repeat(np.arange(len(city)), 20)
    x, y = city.points_in(idx, rng)
    assert (x >= city.x_lo).all() and (x <= city.x_hi).all() and (y >= city.y_lo).all() and (y <= city.y_hi).all()
    assert (np.hypot(x - city.cx[idx], y - city.cy[idx]) <= city.cell_side_m).all()


def test_road_time_uses_detour_and_hourly_speed(city):
    # 1 km straight at 20 km/h (08:00 in sf.toml) with detour 1.3: 1.3 km -> 234 s
    assert city.drive_s(np.array([1000.0]), 8)[0] == pytest.approx(1300 / (20 / 3.6))


def test_cells_within_a_radius(city):
    nbr, dist = city.cells_within(2000.0)
    assert (nbr[:, 0] == np.arange(len(city))).all() and (dist[:, 0] == 0).all()
    assert (dist <= 2000.0).all()

"""The land outline as a vectorised point-in-polygon test."""

from __future__ import annotations

import numpy as np

from equilibrium_node.__main__ import BUNDLED_CONFIG
from equilibrium_node.geo.land import Land
from equilibrium_node.settings import load_settings


def test_san_francisco_is_land_and_the_bay_is_not():
    land = Land(load_settings(BUNDLED_CONFIG, env={}).map.outline)
    points = {
        "union square": (37.7880, -122.4075, True),
        "sunset": (37.7550, -122.4850, True),
        "sfo": (37.6180, -122.3830, True),
        "treasure island": (37.8250, -122.3700, True),
        "the bay": (37.8000, -122.3700, False),
        "the pacific": (37.7600, -122.5300, False),
        "oakland": (37.8044, -122.2712, False),
    }
    lat = np.array([p[0] for p in points.values()])
    lng = np.array([p[1] for p in points.values()])
    inside = land.contains(lat, lng)
    assert dict(zip(points, inside.tolist(), strict=True)) == {k: v[2] for k, v in points.items()}


def test_an_empty_outline_is_land_everywhere():
    assert Land([]).contains(np.array([0.0, 50.0]), np.array([0.0, 10.0])).all()

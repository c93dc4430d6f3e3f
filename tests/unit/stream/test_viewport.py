"""Viewport validation shared by the WebSocket subscribe and the SSE query."""

from __future__ import annotations

import pytest

from equilibrium_node.errors import ApiError
from equilibrium_node.stream.viewport import Viewport, ViewportRules

RULES = ViewportRules(cell_level=13, max_cells=5000, vehicle_types=lambda: ("standard", "xl"))


def test_valid_viewport_defaults_to_the_first_vehicle_type():
    vp = RULES.parse([37.7, -122.5, 37.8, -122.4], 14, None)
    assert vp == Viewport("standard", 13, (37.7, -122.5, 37.8, -122.4))
    assert RULES.parse([37.7, -122.5, 37.8, -122.4], 9, "xl") == Viewport("xl", 10, (37.7, -122.5, 37.8, -122.4))
    assert vp.contains(37.75, -122.45) and not vp.contains(37.9, -122.45)
    assert vp.covers((37.71, -122.49, 37.79, -122.41)) and not vp.covers((37.6, -122.49, 37.79, -122.41))


@pytest.mark.parametrize(("bounds", "zoom", "vehicle", "code", "field"), [
    ([37.8, -122.4, 37.7, -122.5], 14, None, "out_of_range", "bounds"),
    ([-91, 0, 0, 1], 14, None, "out_of_range", "bounds"),
    ([0, 0, 1, 181], 14, None, "out_of_range", "bounds"),
    ([float("nan"), 0, 1, 1], 14, None, "out_of_range", "bounds"),
    ([0, 0, 1], 14, None, "validation_error", "bounds"),
    ([37.7, -122.5, 37.8, -122.4], 23, None, "out_of_range", "zoom"),
    ([37.7, -122.5, 37.8, -122.4], -1, None, "out_of_range", "zoom"),
    ([37.7, -122.5, 37.8, -122.4], 14, "boat", "unknown_vehicle_type", "vehicle_type"),
    ([30, -130, 45, -110], 14, None, "too_many_cells", "bounds"),
])
def test_bad_viewports_name_the_field(bounds, zoom, vehicle, code, field):
    with pytest.raises(ApiError) as err:
        RULES.parse(bounds, zoom, vehicle)
    assert err.value.code == code and err.value.field == field and err.value.status == 400


def test_zooming_out_makes_a_big_box_acceptable():
    RULES.parse([30, -130, 45, -110], 5, None)  # level 6: a few hundred cells

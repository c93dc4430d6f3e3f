"""Heatmap aggregation, zoom levels and the colour scale."""

from __future__ import annotations

from equilibrium_node.geo import cells
from equilibrium_node.messages import SurgeUpdate
from equilibrium_node.serving.heatmap import aggregate, color_for, heat_cell, level_for_zoom, viewport_cells


def _update(token: str, multiplier: float, supply: float = 1, demand: float = 2, level: str = "normal",
            trend: str = "stable") -> SurgeUpdate:
    return SurgeUpdate(cell=token, zone_id="z", vehicle_type="standard", multiplier=multiplier, supply=supply,
                       demand=demand, demand_level=level, trend=trend, algorithm="linear", rev=1,
                       updated_at="2026-01-01T00:00:00Z")


def test_color_scale_is_monotonic_steps():
    assert color_for(1.0) == "#1a9850"
    assert color_for(1.05) == "#1a9850"
    assert color_for(2.0) == "#d73027"
    assert color_for(9.0) == "#7f0000"
    assert color_for(0.5) == "#1a9850"


def test_level_for_zoom():
    assert level_for_zoom(15, 13) == 13
    assert level_for_zoom(12, 13) == 13
    assert level_for_zoom(10, 13) == 11
    assert level_for_zoom(0, 13) == 6


def test_parent_takes_max_multiplier_and_sums_counts():
    parent = cells.cell_token(37.7749, -122.4194, 11)
    kids = cells.children(parent, 13)[:3]
    updates = [_update(k, m, supply=2, demand=3, level=lv) for k, m, lv in
               zip(kids, (1.2, 2.1, 1.0), ("normal", "very_high", "low"), strict=True)]
    out = aggregate(updates, 11)
    assert list(out) == [parent]
    agg = out[parent]
    assert agg.surge_multiplier == 2.1 and agg.supply_count == 6 and agg.demand_count == 9
    assert agg.demand_level == "very_high" and agg.color == color_for(2.1) and len(agg.polygon) == 4


def test_cells_carry_the_trend_and_parents_the_balance_of_their_childrens():
    token = cells.cell_token(37.7749, -122.4194, 13)
    assert heat_cell(_update(token, 1.4, trend="increasing")).trend == "increasing"
    parent = cells.cell_token(37.7749, -122.4194, 11)
    kids = cells.children(parent, 13)[:4]

    def trend_of(*trends: str) -> str:
        return aggregate([_update(k, 1.0, trend=t) for k, t in zip(kids, trends, strict=False)], 11)[parent].trend

    assert trend_of("increasing", "increasing", "decreasing") == "increasing"
    assert trend_of("increasing", "decreasing", "decreasing", "stable") == "decreasing"
    assert trend_of("increasing", "decreasing", "stable") == "stable"


def test_viewport_filters_and_caps():
    inside = cells.cell_token(37.7749, -122.4194, 13)
    outside = cells.cell_token(40.0, -74.0, 13)
    bounds = (37.70, -122.50, 37.80, -122.35)
    got = viewport_cells([_update(inside, 1.5), _update(outside, 3.0)], bounds, 14, 13)
    assert [c.cell for c in got] == [inside]
    many = [_update(t, 1.1) for t in cells.cover_rect(37.70, -122.50, 37.80, -122.35, 13, 500)]
    assert viewport_cells(many, bounds, 14, 13, max_cells=5) is None

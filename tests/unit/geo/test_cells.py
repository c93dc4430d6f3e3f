"""Scalar S2 helpers on tokens."""

from __future__ import annotations

import pytest

from equilibrium_node.geo import cells


def test_contract_example_token():
    assert cells.cell_token(37.7749, -122.4194, 13) == "8085809c"
    assert cells.level_of("8085809c") == 13


def test_token_round_trip_and_validation():
    cid = cells.cell_id(40.0, -73.0, 13)
    assert cells.from_token(cells.to_token(cid)) == cid
    for bad in ("", "zz", "0", "8085809C", "1" * 17):
        assert not cells.is_token(bad)
        with pytest.raises(ValueError):
            cells.from_token(bad)


def test_neighbours_are_adjacent_same_level():
    token = cells.cell_token(37.7749, -122.4194, 13)
    ns = cells.neighbors(token)
    assert len(ns) == 8 and token not in ns
    c = cells.center(token)
    for n in ns:
        assert cells.level_of(n) == 13
        assert cells.distance_m(*c, *cells.center(n)) < 2500


def test_parent_children_cover():
    token = cells.cell_token(37.7749, -122.4194, 13)
    kids = cells.children(token, 14)
    assert len(kids) == 4 and all(cells.parent(k, 13) == token for k in kids)
    cover = cells.cover_rect(37.77, -122.43, 37.78, -122.41, 13, 100)
    assert cover and token in cover
    assert cells.cover_rect(30, -130, 45, -110, 13, 100) is None


def test_distance():
    assert cells.distance_m(0, 0, 0, 1) == pytest.approx(111_195, rel=1e-3)

"""Zones: point in polygon, holes, overlaps, and the bundled SF zones."""

from __future__ import annotations

from equilibrium_node.geo.zones import ZoneIndex, geometry_error
from equilibrium_node.settings import Polygon, ZoneConfig


def _zone(zone_id: str, ring: list[list[float]], holes: list[list[list[float]]] | None = None) -> ZoneConfig:
    return ZoneConfig(id=zone_id, name=zone_id, geometry=Polygon(type="Polygon", coordinates=[ring, *(holes or [])]))


SQUARE = [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]
SMALL = [[2, 2], [4, 2], [4, 4], [2, 4], [2, 2]]


def test_point_in_polygon_and_default():
    idx = ZoneIndex([_zone("big", SQUARE)], "r", 13)
    assert idx.zone_of_point(5, 5) == "big"
    assert idx.zone_of_point(11, 5) == "r_default"


def test_holes_are_outside():
    idx = ZoneIndex([_zone("donut", SQUARE, [SMALL])], "r", 13)
    assert idx.zone_of_point(3, 3) == "r_default"
    assert idx.zone_of_point(8, 8) == "donut"


def test_smallest_overlapping_zone_wins_regardless_of_order():
    for zones in ([_zone("big", SQUARE), _zone("small", SMALL)], [_zone("small", SMALL), _zone("big", SQUARE)]):
        idx = ZoneIndex(zones, "r", 13)
        assert idx.zone_of_point(3, 3) == "small"
        assert idx.zone_of_point(8, 8) == "big"


def test_geometry_errors():
    assert geometry_error("Polygon", [SQUARE]) is None
    assert "closed" in geometry_error("Polygon", [[[0, 0], [1, 0], [1, 1], [0, 1]]])
    assert "at least 4" in geometry_error("Polygon", [[[0, 0], [1, 0], [0, 0]]])
    assert "out of range" in geometry_error("Polygon", [[[0, 0], [200, 0], [1, 1], [0, 0]]])
    assert geometry_error("MultiPolygon", []) is not None


def test_every_bundled_zone_has_cells(sf_settings):
    idx = ZoneIndex(sf_settings.zones, "sf", sf_settings.cell_level)
    for zone in sf_settings.zones:
        assert idx.cells_of_zone(zone.id), f"zone {zone.id} contains no cell centre at level 13"
    # landmarks fall in the zones named after them
    assert idx.zone_of_point(37.6213, -122.3790) == "sfo_airport"
    assert idx.zone_of_point(37.7786, -122.3893) == "oracle_park_chase_center"
    assert idx.zone_of_point(37.7599, -122.4148) == "mission"

"""The fast scalar point → cell conversion agrees with s2sphere everywhere."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from equilibrium_node.geo import cells
from equilibrium_node.geo.point_cell import point_token

lat = st.floats(-90, 90, allow_nan=False)
lng = st.floats(-180, 180, allow_nan=False)


@settings(max_examples=3000)
@given(lat, lng, st.integers(0, 30))
def test_matches_s2sphere(lat_deg, lng_deg, level):
    assert point_token(lat_deg, lng_deg, level) == cells.cell_token(lat_deg, lng_deg, level)


def test_faces_poles_and_edges():
    for la, ln in [(0, 0), (0, 90), (90, 0), (0, 180), (0, -90), (-90, 0), (45, 45), (-45, -135), (0, -180),
                   (35.26438968, 45), (37.7749, -122.4194), (-33.8688, 151.2093)]:
        for level in (0, 1, 10, 13, 30):
            assert point_token(la, ln, level) == cells.cell_token(la, ln, level), (la, ln, level)

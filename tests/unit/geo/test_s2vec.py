"""The vectorised S2 agrees with s2sphere everywhere, including poles, the antimeridian and cube-face edges."""

from __future__ import annotations

import math

import numpy as np
import pytest
import s2sphere

from equilibrium_node.geo import cells, s2vec


def reference_ids(lat: np.ndarray, lng: np.ndarray, level: int) -> np.ndarray:
    out = [s2sphere.CellId.from_lat_lng(s2sphere.LatLng.from_degrees(a, b)).parent(level).id()
           for a, b in zip(lat.tolist(), lng.tolist(), strict=True)]
    return np.array(out, dtype=np.uint64)


def targeted_points() -> tuple[np.ndarray, np.ndarray]:
    """Poles, the antimeridian, the equator, cube-face edges and corners, and points an ulp away from them."""
    pts = []
    corner_lat = math.degrees(math.atan(1 / math.sqrt(2)))  # cube corners (35.26...)
    for lat in (90.0, -90.0, 89.999999, -89.999999, 0.0, 45.0, -45.0, corner_lat, -corner_lat, 1e-12, -1e-12):
        for lng in (-180.0, 180.0, -179.9999999, 179.9999999, 0.0, 45.0, -45.0, 90.0, -90.0, 135.0, -135.0,
                    1e-12, -1e-12, 44.99999999, 45.00000001):
            pts.append((lat, lng))
    # face edges: |x| = |z| (lat = +-45 at lng 0/180) and |y| = |z| (lat = +-45 at lng +-90), with neighbours
    for lat0, lng0 in ((45.0, 0.0), (45.0, 90.0), (-45.0, 180.0), (-45.0, -90.0), (corner_lat, 45.0),
                       (-corner_lat, -135.0)):
        for dlat in (-1e-9, 0.0, 1e-9):
            for dlng in (-1e-9, 0.0, 1e-9):
                pts.append((max(-90.0, min(90.0, lat0 + dlat)), max(-180.0, min(180.0, lng0 + dlng))))
    # along the antimeridian and the prime meridian, pole to pole
    for lat in np.linspace(-90, 90, 181).tolist():
        pts += [(lat, 180.0), (lat, -180.0), (lat, 0.0), (lat, 90.0), (lat, -90.0)]
    lat, lng = zip(*pts, strict=True)
    return np.array(lat), np.array(lng)


@pytest.mark.parametrize("level", [13, 0, 1, 6, 10, 16, 22, 30])
def test_agrees_with_s2sphere_on_100k_random_points(level):
    rng = np.random.default_rng(level + 1)
    n = 100_000
    lat = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n)))  # uniform on the sphere
    lng = rng.uniform(-180.0, 180.0, n)
    if level not in (13, 30):
        lat, lng = lat[:20_000], lng[:20_000]  # other levels: a smaller sample keeps the suite quick
    got = s2vec.cell_ids(lat, lng, level)
    want = reference_ids(lat, lng, level)
    assert np.array_equal(got, want), f"{int((got != want).sum())} points differ at level {level}"


@pytest.mark.parametrize("level", [13, 0, 5, 12, 20, 30])
def test_agrees_on_poles_antimeridian_and_face_edges(level):
    lat, lng = targeted_points()
    got = s2vec.cell_ids(lat, lng, level)
    want = reference_ids(lat, lng, level)
    bad = np.flatnonzero(got != want)
    assert bad.size == 0, [(lat[i], lng[i]) for i in bad[:5]]


def test_targeted_points_cover_all_six_faces():
    lat, lng = targeted_points()
    faces = {int(c) >> 61 for c in s2vec.cell_ids(lat, lng, 13)}
    assert faces == {0, 1, 2, 3, 4, 5}


def test_tokens_match_the_scalar_helpers():
    rng = np.random.default_rng(3)
    lat = rng.uniform(37.6, 37.9, 5000)
    lng = rng.uniform(-122.55, -122.35, 5000)
    for level in (13, 10, 15):
        tokens = s2vec.lat_lng_tokens(lat, lng, level)
        assert tokens == [cells.cell_token(a, b, level) for a, b in zip(lat.tolist(), lng.tolist(), strict=True)]
    tokens = s2vec.lat_lng_tokens(lat, lng, 13)
    assert s2vec.from_tokens(tokens).tolist() == s2vec.cell_ids(lat, lng, 13).tolist()
    assert s2vec.to_tokens(s2vec.from_tokens(["8085809c", "89c25"])) == ["8085809c", "89c25"]


def test_bad_inputs():
    assert s2vec.cell_ids([], [], 13).size == 0
    with pytest.raises(ValueError):
        s2vec.cell_ids([0.0], [0.0], 31)
    with pytest.raises(ValueError):
        s2vec.from_tokens(["X"])
    with pytest.raises(ValueError):
        s2vec.from_tokens(["0123456789abcdef0"])


def test_exact_fallback_matches_s2sphere_for_a_point_on_a_face_edge():
    # (0, 45): |x| == |y| up to an ulp; the face is decided by the exact scalar path
    assert s2vec.cell_id(0.0, 45.0, 30) == cells.cell_id(0.0, 45.0, 30)
    assert s2vec.cell_id(90.0, 0.0, 13) == cells.cell_id(90.0, 0.0, 13)


def test_scalar_fallback_path_agrees_with_s2sphere(monkeypatch):
    # force every point through the exact scalar path the vector code uses for doubtful points
    monkeypatch.setattr(s2vec, "_near_edge", lambda s, level: np.ones(s.shape, dtype=bool))
    lat, lng = targeted_points()
    rng = np.random.default_rng(11)
    lat = np.concatenate([lat, np.degrees(np.arcsin(rng.uniform(-1, 1, 2000)))])
    lng = np.concatenate([lng, rng.uniform(-180, 180, 2000)])
    for level in (13, 30):
        assert np.array_equal(s2vec.cell_ids(lat, lng, level), reference_ids(lat, lng, level))

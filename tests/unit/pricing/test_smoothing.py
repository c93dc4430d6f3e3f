"""Neighbour search, input blending and the neighbour-gap guardrail."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from equilibrium_node.geo import cells
from equilibrium_node.pricing.cellgraph import CellGraph, cells_within, haversine_m, pairs_within
from equilibrium_node.pricing.smoothing import blend, neighbor_gap

DOWNTOWN = (37.7946, -122.3950)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**16), n=st.integers(1, 300), lat0=st.floats(-70, 70), radius=st.floats(100, 5000))
def test_pairs_within_equals_brute_force(seed, n, lat0, radius):
    rng = np.random.default_rng(seed)
    lat = lat0 + rng.random(n) * 0.3
    lng = -50 + rng.random(n) * 0.3
    i, j, d = pairs_within(lat, lng, radius)
    full = haversine_m(lat[:, None], lng[:, None], lat[None, :], lng[None, :])
    bi, bj = np.nonzero(full <= radius)
    assert set(zip(i.tolist(), j.tolist(), strict=True)) == set(zip(bi.tolist(), bj.tolist(), strict=True))
    assert np.allclose(d, np.where(i == j, 0.0, full[i, j]))


def test_cells_within_radius_are_the_cells_whose_centres_are_close():
    centre = cells.cell_token(*DOWNTOWN, 13)
    found = dict(cells_within(centre, 1500))
    assert centre not in found and found
    assert all(d <= 1500 for d in found.values())
    ring2 = {nb2 for nb in cells.neighbors(centre) for nb2 in cells.neighbors(nb)} - {centre}
    lat, lng = cells.center(centre)
    expected = {t for t in ring2 if cells.distance_m(lat, lng, *cells.center(t)) <= 1500}
    assert set(found) == expected


def _graph(tokens):
    g = CellGraph(1500, 800)
    g.add(tokens)
    return g


def test_blend_weights_by_distance_and_keeps_an_isolated_ratio():
    centre = cells.cell_token(*DOWNTOWN, 13)
    g = _graph([centre])
    g.expand_radius([0])
    n = len(g)
    supply, demand = np.zeros(n), np.zeros(n)
    supply[0], demand[0] = 4.0, 12.0
    s, d = blend(g.radius(), np.arange(n), g.total_weights(np.arange(n)), supply, demand)
    assert d[0] / s[0] == pytest.approx(3.0)  # empty neighbours dilute supply and demand alike
    assert s[0] < 4.0 and (s[1:] > 0).all()  # and share the market of the busy cell
    # weights fall with distance: exp(-d / decay)
    _row, col, w = g.radius().rows(np.array([0]))
    lat, lng = g.centres()
    dist = haversine_m(lat[0], lng[0], lat[col], lng[col])
    assert np.allclose(w, np.exp(-dist / 800))


def test_neighbor_gap_lifts_around_a_hotspot_and_never_cuts():
    centre = cells.cell_token(*DOWNTOWN, 13)
    g = _graph([centre])
    g.expand([0], [5])
    n = len(g)
    x = np.ones(n)
    x[0] = 3.0
    out = neighbor_gap(g.adjacent(), x, 0.5, np.full(n, 5.0))
    assert out[0] == 3.0
    assert (out >= x).all()
    adj = g.adjacent()
    for i in range(n):
        for j in adj.indices[adj.indptr[i]:adj.indptr[i + 1]]:
            assert abs(out[i] - out[j]) <= 0.5 + 1e-9
    ring1 = [g.slot[t] for t in cells.neighbors(centre)]
    assert np.allclose(out[ring1], 2.5)
    # a ceiling bounds the lift (a neighbouring zone with a lower cap)
    capped = neighbor_gap(g.adjacent(), x, 0.5, np.where(np.arange(n) == ring1[0], 1.2, 5.0))
    assert capped[ring1[0]] == 1.2


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**16), gap=st.floats(0.1, 1.0))
def test_neighbor_gap_is_the_smallest_lift_that_bounds_every_gap(seed, gap):
    rng = np.random.default_rng(seed)
    centre = cells.cell_token(*DOWNTOWN, 13)
    g = _graph([centre])
    g.expand([0], [3])
    n = len(g)
    x = 1.0 + rng.random(n) * 3 * (rng.random(n) < 0.2)
    out = neighbor_gap(g.adjacent(), x, gap, np.full(n, 10.0))
    adj = g.adjacent()
    rows = np.repeat(np.arange(n), np.diff(adj.indptr))
    assert (np.abs(out[rows] - out[adj.indices]) <= gap + 1e-9).all()
    assert (out >= x - 1e-12).all()
    # minimal: every lifted cell is exactly (a neighbour - gap)
    best = np.maximum.reduceat(out[adj.indices] - gap * adj.data, adj.indptr[:-1])
    lifted = out > x + 1e-9
    assert np.allclose(out[lifted], best[lifted])

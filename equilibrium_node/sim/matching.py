"""Dispatch: waiting requests and available drivers matched nearest-first, vectorised.

The result is the greedy matching by distance: repeatedly the closest remaining (request, driver)
pair within reach is matched, so every driver is matched to the nearest request still waiting and
every request to the nearest driver still free. It is computed in rounds over a dense distance
matrix, each round taking every *mutual* nearest pair at once (a request whose nearest driver has
that request as its nearest); the globally closest pair is always mutual, so every round makes
progress, and a pair taken in a round is one the sequential greedy would take too. Ties go to the
lower index (earlier request, lower driver row), so the result is deterministic.

Only drivers inside the requests' bounding box grown by the reach are considered: a handful of
requests against a few thousand drivers is a small matrix, and a queue of hundreds only appears when
few drivers are free.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Matches(NamedTuple):
    """Matched pairs: positions into the request and driver arrays given, and their distances (m)."""

    requests: np.ndarray
    drivers: np.ndarray
    distance_m: np.ndarray


_EMPTY = Matches(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0))


def match_nearest(rx: np.ndarray, ry: np.ndarray, dx: np.ndarray, dy: np.ndarray,
                  reach_m: float | np.ndarray) -> Matches:
    """Greedy nearest-first matching of requests at (rx, ry) to drivers at (dx, dy); a request only takes a
    driver within its ``reach_m`` (one distance for all, or one per request)."""
    if not len(rx) or not len(dx):
        return _EMPTY
    reach = np.broadcast_to(np.asarray(reach_m, dtype=np.float64), rx.shape)
    far = float(reach.max())
    near = ((dx >= rx.min() - far) & (dx <= rx.max() + far) & (dy >= ry.min() - far) & (dy <= ry.max() + far))
    cols = np.flatnonzero(near)
    if not len(cols):
        return _EMPTY
    rows = np.arange(len(rx))
    dist = np.hypot(rx[:, None] - dx[cols][None, :], ry[:, None] - dy[cols][None, :])
    dist[dist > reach[:, None]] = np.inf
    out_r, out_d, out_v = [], [], []
    while dist.size:
        best_d = dist.argmin(axis=1)
        best_v = dist[np.arange(len(rows)), best_d]
        best_r = dist.argmin(axis=0)
        mutual = np.isfinite(best_v) & (best_r[best_d] == np.arange(len(rows)))
        if not mutual.any():
            break
        mr = np.flatnonzero(mutual)
        md = best_d[mr]
        out_r.append(rows[mr])
        out_d.append(cols[md])
        out_v.append(best_v[mr])
        keep_r = np.ones(len(rows), dtype=bool)
        keep_r[mr] = False
        keep_d = np.ones(len(cols), dtype=bool)
        keep_d[md] = False
        rows, cols = rows[keep_r], cols[keep_d]
        dist = dist[keep_r][:, keep_d]
        # rows with nothing in reach can never match: drop them so later rounds stay small
        live = np.isfinite(dist).any(axis=1) if dist.size else np.zeros(len(rows), dtype=bool)
        rows, dist = rows[live], dist[live]
    if not out_r:
        return _EMPTY
    return Matches(np.concatenate(out_r), np.concatenate(out_d), np.concatenate(out_v))


__all__ = ["Matches", "match_nearest"]

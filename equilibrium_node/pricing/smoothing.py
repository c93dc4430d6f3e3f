"""Spatial smoothing: blend each cell's inputs with its neighbours, and cap the price gap between
adjacent cells.

- :func:`blend` replaces each cell's supply and demand with the average over the cells within
  ``smoothing_radius_m`` (itself included), weighted ``exp(-distance / smoothing_decay_m)``. Empty
  neighbours pull supply and demand down alike, so the demand/supply ratio of an isolated cell is
  unchanged; a cell next to a busy one takes part of its market, so a hotspot does not stop at a
  cell border.
- :func:`neighbor_gap` (guardrail 6) lifts every cell to at least its adjacent cells' price minus
  ``rules.max_neighbor_gap``, within the cell's own ceiling.

Both are numpy over CSR neighbour rows (:mod:`.cellgraph`), with no Python loop per cell.
"""

from __future__ import annotations

import numpy as np

from .cellgraph import Csr

EPS = 1e-9


def blend(radius: Csr, slots: np.ndarray, total: np.ndarray, *columns: np.ndarray) -> list[np.ndarray]:
    """Weighted averages over the radius rows of ``slots`` of each column (columns are indexed by slot).

    ``total`` is each row's full weight (every cell within the radius, including cells absent from
    the graph, which hold no supply or demand): the average does not depend on which empty cells
    happen to be known.
    """
    row, col, weight = radius.rows(slots)
    n = len(slots)
    total = np.where(total > 0, total, 1.0)
    return [np.bincount(row, weights=weight * column[col], minlength=n) / total for column in columns]


def neighbor_gap(adjacent: Csr, x: np.ndarray, gap: float, ceiling: np.ndarray, max_rounds: int = 256) -> np.ndarray:
    """Lift every cell to at least (adjacent cell - gap), within its ceiling; over all slots of ``adjacent``.

    The result is the smallest array >= ``x`` (and <= ``ceiling`` where it was) in which adjacent
    cells differ by at most ``gap`` wherever the ceilings allow: it is reached by relaxing rows until
    nothing moves. ``adjacent`` rows start with the cell itself (data 0) so no row is empty.
    """
    out = np.asarray(x, dtype=np.float64).copy()
    if len(out) == 0:
        return out
    starts = adjacent.indptr[:-1]
    offset = gap * adjacent.data
    for _ in range(max_rounds):
        best = np.maximum.reduceat(out[adjacent.indices] - offset, starts)
        lifted = np.maximum(out, np.minimum(best, np.maximum(ceiling, out)))
        if not np.any(lifted > out + EPS):
            break
        out = lifted
    return out


__all__ = ["blend", "neighbor_gap"]

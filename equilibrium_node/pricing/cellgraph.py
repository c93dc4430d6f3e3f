"""The cells the pricing engine knows, each with an integer slot, and their two neighbour relations.

- **Within a radius** (smoothing): every pair of cells whose centres are at most
  ``smoothing_radius_m`` apart, found with a grid over a local projection (numpy, no per-pair
  Python) and weighted ``exp(-distance / decay)``; a cell is its own neighbour at distance 0.
- **Adjacent** (the neighbour-gap rule): the S2 edge and vertex neighbours at the same level.

The graph holds the cells the market reported, every cell within the smoothing radius of those
(:meth:`CellGraph.expand_radius`), and the rings the neighbour gap spreads over (:meth:`CellGraph.expand`).

Both are CSR arrays over slots, rebuilt only when cells are added (the set of cells of a region
settles within minutes), so a tick only gathers rows. Slots never move, which lets the engine keep
its per-cell state in plain arrays indexed by slot.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Collection, Iterable
from typing import NamedTuple

import numpy as np

from ..geo import cells

EARTH_RADIUS_M = cells.EARTH_RADIUS_M


class Csr(NamedTuple):
    """Compressed sparse rows: row ``i`` is ``indices[indptr[i]:indptr[i+1]]`` with ``data`` alongside."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray

    def rows(self, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Gather rows: (row position in ``slots`` per entry, column slot, data), vectorised."""
        starts = self.indptr[slots]
        lengths = self.indptr[slots + 1] - starts
        total = int(lengths.sum())
        row = np.repeat(np.arange(len(slots)), lengths)
        offsets = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        pos = np.repeat(starts, lengths) + offsets
        return row, self.indices[pos], self.data[pos]


def haversine_m(lat1: np.ndarray, lng1: np.ndarray, lat2: np.ndarray, lng2: np.ndarray) -> np.ndarray:
    """Great-circle distances in metres, element-wise."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lng2 - lng1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(a)))


def local_distance_m(lat1: np.ndarray, lng1: np.ndarray, lat2: np.ndarray, lng2: np.ndarray) -> np.ndarray:
    """Distances in metres on the local tangent plane (equirectangular at the mean latitude of each pair):
    within 1e-6 of the great-circle distance at the few kilometres smoothing uses, and much cheaper."""
    mean_lat = np.radians((lat1 + lat2) * 0.5)
    dx = np.radians(lng2 - lng1) * np.cos(mean_lat)
    dy = np.radians(lat2 - lat1)
    return EARTH_RADIUS_M * np.sqrt(dx * dx + dy * dy)


def pairs_within(lat: np.ndarray, lng: np.ndarray, radius_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every ordered pair (i, j) of points at most ``radius_m`` apart (i == j included) and their distances.

    Points are binned on a grid of a local equirectangular projection whose bin is wide enough
    that any pair within the radius falls in the same or an adjacent bin; candidates are then
    checked with :func:`local_distance_m`. Regions do not cross the antimeridian.
    """
    n = len(lat)
    if n == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, np.empty(0)
    lat0 = math.radians(float(np.mean(lat)))
    worst = math.radians(min(89.0, float(np.max(np.abs(lat)))))
    stretch = max(1.0, math.cos(lat0) / max(math.cos(worst), 1e-6))
    bin_m = max(radius_m, 1.0) * stretch * 1.001
    x = EARTH_RADIUS_M * np.radians(lng) * math.cos(lat0)
    y = EARTH_RADIUS_M * np.radians(lat)
    bx = np.floor(x / bin_m).astype(np.int64)
    by = np.floor(y / bin_m).astype(np.int64)
    bx -= bx.min() - 1
    by -= by.min() - 1
    width = int(by.max()) + 2
    key = bx * width + by
    order = np.argsort(key, kind="stable")
    skey = key[order]
    out_i, out_j = [], []
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            q = (bx + dx) * width + (by + dy)
            lo = np.searchsorted(skey, q, "left")
            hi = np.searchsorted(skey, q, "right")
            counts = hi - lo
            total = int(counts.sum())
            if not total:
                continue
            i = np.repeat(np.arange(n), counts)
            offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
            out_i.append(i)
            out_j.append(order[np.repeat(lo, counts) + offsets])
    i = np.concatenate(out_i)
    j = np.concatenate(out_j)
    d = local_distance_m(lat[i], lng[i], lat[j], lng[j])
    keep = (d <= radius_m) | (i == j)
    i, j, d = i[keep], j[keep], np.where(i[keep] == j[keep], 0.0, d[keep])
    order = np.lexsort((j, i))
    return i[order], j[order], d[order]


def cells_within(token: str, radius_m: float) -> list[tuple[str, float]]:
    """Every other cell of the same level whose centre is at most ``radius_m`` from the centre of
    ``token``, with its distance (a walk outward over S2 neighbours, ring by ring, until a ring has
    no cell within the radius)."""
    lat, lng = cells.center(token)
    k_lng = math.cos(math.radians(lat))
    m_per_deg = EARTH_RADIUS_M * math.pi / 180.0
    limit = (radius_m / m_per_deg) ** 2
    center = cells.center
    neighbors = cells.neighbors
    seen = {token}
    ring = [token]
    found: list[tuple[str, float]] = []
    while ring:
        nxt = []
        for current in ring:
            for nb in neighbors(current):
                if nb in seen:
                    continue
                seen.add(nb)
                nb_lat, nb_lng = center(nb)
                dy, dx = nb_lat - lat, (nb_lng - lng) * k_lng
                d2 = dx * dx + dy * dy  # local plane, degrees of latitude: exact to 1e-6 at this scale
                if d2 <= limit:
                    found.append((nb, math.sqrt(d2) * m_per_deg))
                    nxt.append(nb)
        ring = nxt
    return found


def _csr(n: int, i: np.ndarray, j: np.ndarray, data: np.ndarray) -> Csr:
    """CSR from entries sorted by row."""
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(i, minlength=n), out=indptr[1:])
    return Csr(indptr, j.astype(np.int64), data.astype(np.float64))


class CellGraph:
    """Slots, centres and neighbour relations of every cell the engine has seen."""

    def __init__(self, radius_m: float, decay_m: float) -> None:
        self.radius_m = radius_m
        self.decay_m = decay_m
        self.tokens: list[str] = []
        self.slot: dict[str, int] = {}
        self._lat: list[float] = []
        self._lng: list[float] = []
        self._expanded: dict[str, int] = {}  # token -> rings already walked around it
        self._radius_done = np.zeros(0, dtype=bool)
        self._weight_total = np.zeros(0)  # 0: not computed yet
        self._adj: list[list[int]] = []
        self._radius: Csr | None = None
        self._adjacent: Csr | None = None
        self._token_array = np.empty(0, dtype=object)

    def __len__(self) -> int:
        return len(self.tokens)

    def add(self, tokens: Iterable[str]) -> np.ndarray:
        """Slots of ``tokens``, adding the unknown ones (the relations are rebuilt lazily)."""
        out = []
        added = False
        for token in tokens:
            slot = self.slot.get(token)
            if slot is None:
                slot = len(self.tokens)
                self.slot[token] = slot
                self.tokens.append(token)
                lat, lng = cells.center(token)
                self._lat.append(lat)
                self._lng.append(lng)
                mine: list[int] = []
                for nb in cells.neighbors(token):
                    other = self.slot.get(nb)
                    if other is not None:
                        mine.append(other)
                        self._adj[other].append(slot)
                self._adj.append(mine)
                added = True
            out.append(slot)
        if added:
            self._radius = self._adjacent = None
        return np.asarray(out, dtype=np.int64)

    @property
    def token_array(self) -> np.ndarray:
        """Tokens by slot as an object array (for fancy indexing)."""
        if len(self._token_array) != len(self.tokens):
            self._token_array = np.array(self.tokens, dtype=object)
        return self._token_array

    def lookup(self, tokens: Collection[str]) -> tuple[np.ndarray, list[str]]:
        """Slots of the known tokens, and the tokens not known yet."""
        get = self.slot.get
        found = np.fromiter((get(t, -1) for t in tokens), dtype=np.int64, count=len(tokens))
        if (found >= 0).all():
            return found, []
        return found[found >= 0], [t for t in tokens if t not in self.slot]

    def slots_of(self, tokens: Iterable[str]) -> np.ndarray:
        """Slots of known tokens (unknown ones are skipped)."""
        return np.asarray([s for t in tokens if (s := self.slot.get(t)) is not None], dtype=np.int64)

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """(lat, lng) arrays of every slot."""
        return np.asarray(self._lat), np.asarray(self._lng)

    def radius(self) -> Csr:
        """Cells within the smoothing radius (self included), data = exp(-distance / decay)."""
        if self._radius is None:
            lat, lng = self.centres()
            i, j, d = pairs_within(lat, lng, self.radius_m)
            self._radius = _csr(len(self), i, j, np.exp(-d / self.decay_m))
        return self._radius

    def adjacent(self) -> Csr:
        """Adjacent known cells, each row starting with the cell itself; data = 0 for self, 1 for a neighbour."""
        if self._adjacent is None:
            lengths = np.fromiter((len(a) + 1 for a in self._adj), dtype=np.int64, count=len(self._adj))
            j = np.fromiter(itertools.chain.from_iterable((s, *a) for s, a in enumerate(self._adj)), dtype=np.int64,
                            count=int(lengths.sum()))
            i = np.repeat(np.arange(len(self._adj)), lengths)
            self._adjacent = _csr(len(self), i, j, (i != j).astype(np.float64))
        return self._adjacent

    def _grow(self, name: str, fill: float | bool) -> np.ndarray:
        arr = getattr(self, name)
        if len(arr) < len(self):
            arr = np.concatenate([arr, np.full(len(self) - len(arr), fill, dtype=arr.dtype)])
            setattr(self, name, arr)
        return arr

    def _within(self, slot: int) -> list[tuple[str, float]]:
        around = cells_within(self.tokens[slot], self.radius_m)
        weights = self._grow("_weight_total", 0.0)
        weights[slot] = 1.0 + sum(math.exp(-d / self.decay_m) for _, d in around)
        return around

    def expand_radius(self, slots: np.ndarray | Iterable[int]) -> int:
        """Add every cell whose centre lies within the smoothing radius of ``slots`` (each cell once):
        a cell next to a busy one shares its market even before it has data of its own. Returns how
        many cells were new."""
        before = len(self)
        slots = np.asarray(slots, dtype=np.int64)
        done = self._grow("_radius_done", False)
        todo = slots[~done[slots]] if len(slots) else slots
        for slot in todo.tolist():
            self.add(t for t, _ in self._within(slot))
        self._grow("_radius_done", False)[todo] = True
        return len(self) - before

    def total_weights(self, slots: np.ndarray) -> np.ndarray:
        """Per slot, the sum of the smoothing weights of *every* cell within the radius, known to the
        graph or not (cells the market never reported hold no supply or demand, so they only count in
        this denominator). Computed once per cell."""
        weights = self._grow("_weight_total", 0.0)
        for slot in slots[weights[slots] == 0].tolist():
            self._within(slot)
        return self._weight_total[slots]

    def expand(self, slots: Iterable[int], rings: Iterable[int]) -> int:
        """Add the cells up to ``rings`` S2 adjacency steps around each of ``slots``; returns how many
        cells were new. The neighbour gap lifts cells up to ``(multiplier - 1) / gap`` steps from a
        hot one, so it asks for that many rings at once. One breadth-first walk from all sources,
        remembering how deep each cell was already expanded, so overlapping rings cost nothing twice."""
        before = len(self)
        depth = self._expanded
        frontier: dict[str, int] = {}
        for slot, k in zip(slots, rings, strict=True):
            token, k = self.tokens[int(slot)], int(k)
            if k > depth.get(token, 0) and k > frontier.get(token, 0):
                frontier[token] = k
        reached: list[str] = []
        while frontier:
            for token, k in frontier.items():
                depth[token] = k
            nxt: dict[str, int] = {}
            for token, k in frontier.items():
                for nb in cells.neighbors(token):
                    if k - 1 > depth.get(nb, -1) and k - 1 > nxt.get(nb, -1):
                        nxt[nb] = k - 1
            reached.extend(nxt)
            frontier = {t: k for t, k in nxt.items() if k > 0}
            for t, k in nxt.items():
                if k == 0:
                    depth.setdefault(t, 0)
        self.add(t for t in reached if t not in self.slot)
        return len(self) - before


__all__ = ["CellGraph", "Csr", "cells_within", "haversine_m", "local_distance_m", "pairs_within"]

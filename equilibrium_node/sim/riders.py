"""Riders: trip intents that see a price, request or walk away, then wait up to their patience.

- **Intents** arrive as a Poisson process per cell (the scenario's rate times the cell's weight). Each
  has a pickup point, a destination (cells weighted by the scenario), a patience drawn uniformly in
  ``[patience_min_s, patience_max_s]`` and a uniform number that decides the request. All of it comes
  from the riders' own random stream and does not depend on prices, so every algorithm of a comparison
  faces exactly the same riders (common random numbers): only their decisions differ.
- **Price**: a rider requests with probability ``min(1, multiplier ** elasticity)`` (elasticity
  -0.6 by default: at 2.0x about two riders in three still request), at the multiplier served in
  their cell. Every intent is a ``quote`` demand signal; a request makes it a ``request`` signal.
- **Waiting**: a request waits for dispatch; one not matched within its patience abandons (unfulfilled).
  Once matched, a rider waits for the driver (no cancellations after a match).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .city import City
from .model import MarketModel


class Intents(NamedTuple):
    """The trip intents of one step (arrays, one row per rider)."""

    cell: np.ndarray  # the pickup's S2 cell (index into the city's cells)
    x: np.ndarray
    y: np.ndarray
    dest_x: np.ndarray
    dest_y: np.ndarray
    patience_s: np.ndarray
    draw: np.ndarray  # uniform [0, 1): requests when below the probability the price gives

    def __len__(self) -> int:  # type: ignore[override]
        return len(self.cell)


def arrivals(city: City, rate: np.ndarray, dest_p: np.ndarray, model: MarketModel,
             rng: np.random.Generator) -> Intents:
    """Intents of one step; ``rate`` is the expected count per cell, ``dest_p`` the destination distribution."""
    counts = rng.poisson(rate)
    origin = np.repeat(np.arange(len(city)), counts)
    x, y = city.points_in(origin, rng)
    dest = rng.choice(len(city), size=len(origin), p=dest_p)
    dx, dy = city.points_in(dest, rng)
    patience = rng.uniform(model.patience_min_s, max(model.patience_min_s, model.patience_max_s), len(origin))
    return Intents(city.cell_of(x, y), x, y, dx, dy, patience, rng.random(len(origin)))


def request_probability(multiplier: np.ndarray, elasticity: float) -> np.ndarray:
    """Chance that a rider shown ``multiplier`` requests: constant elasticity, 1 at the base price."""
    return np.minimum(1.0, np.power(np.maximum(multiplier, 1e-9), elasticity))


class Queue:
    """Requests waiting for a driver (columns; compacted when rows leave)."""

    COLUMNS = ("id", "cell", "x", "y", "dest_x", "dest_y", "t_request", "deadline", "multiplier")

    def __init__(self) -> None:
        self.cols: dict[str, np.ndarray] = {c: np.zeros(0) for c in self.COLUMNS}
        self.cols["id"] = np.zeros(0, dtype=np.int64)
        self.cols["cell"] = np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.cols["id"])

    def __getitem__(self, name: str) -> np.ndarray:
        return self.cols[name]

    def add(self, **columns: np.ndarray) -> None:
        """Append requests (every column given)."""
        for c in self.COLUMNS:
            self.cols[c] = np.concatenate([self.cols[c], np.asarray(columns[c], dtype=self.cols[c].dtype)])

    def remove(self, rows: np.ndarray) -> None:
        """Drop the given rows."""
        if len(rows):
            keep = np.ones(len(self), dtype=bool)
            keep[rows] = False
            for c in self.COLUMNS:
                self.cols[c] = self.cols[c][keep]

    def expired(self, now: float) -> np.ndarray:
        """Rows whose patience ran out by ``now``."""
        return np.flatnonzero(self.cols["deadline"] <= now)


__all__ = ["Intents", "Queue", "arrivals", "request_probability"]

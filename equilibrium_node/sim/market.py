"""The simulated market as the pricing core reads it: a :class:`~equilibrium_node.market.view.MarketView`
over the agents' arrays, with the node's window rules.

What the node's market state would hold if every simulated driver pinged once a step and every rider
sent their signals:

- **supply**: available (idle, online) drivers per cell; **on_trip**: drivers on their way to a pickup
  or with a rider;
- **demand_1m / demand_5m**: distinct riders with a signal in the last 60 / 300 s, each counted once
  at the weight of their strongest kind (``market.weight_request`` for a rider who requested,
  ``market.weight_quote`` for one who only looked at the price), the windows half-open
  ``(now - w, now]`` as in :mod:`equilibrium_node.market.windows`. Signals of a step carry the step's time.

``changed_since`` answers the cells whose counts changed since a version, as the node's state does.
It returns them as a list in a fixed order (a set's iteration order depends on the string hash seed,
and the core assigns graph slots in that order), so a run is the same in every process.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from ..market.view import CellArrays, CellStats, DriverInfo
from ..market.windows import DEMAND_WINDOWS_S


class SimMarket:
    """Per-cell supply and windowed demand of the simulation (a MarketView)."""

    def __init__(self, tokens: Sequence[str], step_s: float) -> None:
        self.tokens = list(tokens)
        self.index = {t: i for i, t in enumerate(self.tokens)}
        self.token_array = np.array(self.tokens, dtype=object)
        n = len(self.tokens)
        self.windows = tuple(max(1, round(w / step_s)) for w in DEMAND_WINDOWS_S)  # steps per window
        self.ring = np.zeros((self.windows[1], n))
        self.head = -1
        self.supply = np.zeros(n)
        self.on_trip = np.zeros(n)
        self.demand_1m = np.zeros(n)
        self.demand_5m = np.zeros(n)
        self.changed_at = np.zeros(n, dtype=np.int64)
        self.version = 0
        self._now = 0.0

    def update(self, now: float, idle_cells: np.ndarray, busy_cells: np.ndarray, demand: np.ndarray) -> None:
        """One step: the cells of the idle and busy drivers, and this step's weighted demand per cell."""
        n = len(self.tokens)
        self.version += 1
        self._now = now
        self.head = (self.head + 1) % len(self.ring)
        self.ring[self.head] = demand
        short = [(self.head - k) % len(self.ring) for k in range(self.windows[0])]
        old = (self.supply, self.on_trip, self.demand_1m, self.demand_5m)
        self.supply = np.bincount(idle_cells, minlength=n).astype(np.float64)
        self.on_trip = np.bincount(busy_cells, minlength=n).astype(np.float64)
        self.demand_1m = self.ring[short].sum(axis=0)
        self.demand_5m = self.ring.sum(axis=0)
        changed = np.zeros(n, dtype=bool)
        for before, after in zip(old, (self.supply, self.on_trip, self.demand_1m, self.demand_5m), strict=True):
            changed |= np.abs(before - after) > 1e-9
        self.changed_at[changed] = self.version

    # MarketView ------------------------------------------------------------------------------------
    @property
    def applied_seq(self) -> int:
        """Steps applied."""
        return self.version

    def now(self) -> float:
        """Simulated time of the latest step (epoch seconds)."""
        return self._now

    def cell_stats(self, cell: str, vehicle_type: str, now: float | None = None) -> CellStats:
        """One cell's counts (zeros outside the city)."""
        i = self.index.get(cell)
        if i is None:
            return CellStats(0, 0, 0.0, 0.0)
        return CellStats(int(self.supply[i]), int(self.on_trip[i]), float(self.demand_1m[i]),
                         float(self.demand_5m[i]))

    def cell_arrays(self, cells: Sequence[str], vehicle_type: str, now: float | None = None) -> CellArrays:
        """The counts of many cells (zeros for cells outside the city: nobody drives or rides there)."""
        get = self.index.get
        idx = np.fromiter((get(c, -1) for c in cells), dtype=np.int64, count=len(cells))
        known = idx >= 0
        out = [np.zeros(len(idx)) for _ in range(4)]
        for arr, src in zip(out, (self.supply, self.on_trip, self.demand_1m, self.demand_5m), strict=True):
            arr[known] = src[idx[known]]
        return CellArrays(*out)

    def active_cells(self) -> Iterable[str]:
        """Cells with any supply, on-trip driver or demand in the 5-minute window."""
        active = (self.supply > 0) | (self.on_trip > 0) | (self.demand_5m > 0)
        return self.token_array[active].tolist()

    def changed_since(self, version: int) -> tuple[list[str], int]:  # type: ignore[override]
        """Cells whose counts changed after ``version`` (in city order), and the current version."""
        return self.token_array[self.changed_at > version].tolist(), self.version

    def driver(self, driver_id: str) -> DriverInfo | None:
        """The simulator does not answer per-driver questions."""
        return None


__all__ = ["SimMarket"]

"""A plain in-memory :class:`~equilibrium_node.market.view.MarketView` for unit tests of the pricing maths.

The pricing core reads the market only through the protocol; this object answers it from a dict
that a test sets directly, so the maths can be checked with exact inputs. End-to-end tests use the
real market state fed through NATS instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np

from equilibrium_node.market.view import CellArrays, CellStats, DriverInfo


class PlainMarket:
    """Supply and demand per (cell, vehicle type), set by the test."""

    def __init__(self, now: float = 1_700_000_000.0, clock: Callable[[], float] | None = None) -> None:
        self.clock = clock  # when given (time.time), now() follows it like a caught-up market
        self.stats: dict[tuple[str, str], CellStats] = {}
        self._now = now
        self._version = 0
        self._changed: dict[str, int] = {}

    def set(self, cell: str, vehicle_type: str = "standard", supply: float = 0, demand: float = 0,
            demand_5m: float | None = None, on_trip: float = 0) -> None:
        """Set a cell's inputs (demand_5m defaults to five times the 1-minute demand: a steady rate)."""
        self.stats[(cell, vehicle_type)] = CellStats(int(supply), int(on_trip), float(demand),
                                                     float(demand * 5 if demand_5m is None else demand_5m))
        self._version += 1
        self._changed[cell] = self._version

    def clear(self, cell: str, vehicle_type: str = "standard") -> None:
        """Remove a cell's inputs."""
        self.set(cell, vehicle_type)

    def advance(self, seconds: float) -> float:
        """Move the clock."""
        self._now += seconds
        return self._now

    @property
    def applied_seq(self) -> int:
        """Not a stream: the change counter."""
        return self._version

    def now(self) -> float:
        """The test's clock."""
        return self.clock() if self.clock is not None else self._now

    def cell_stats(self, cell: str, vehicle_type: str, now: float | None = None) -> CellStats:
        """Inputs of one cell (zeros when unset)."""
        return self.stats.get((cell, vehicle_type), CellStats(0, 0, 0.0, 0.0))

    def cell_arrays(self, cells: Sequence[str], vehicle_type: str, now: float | None = None) -> CellArrays:
        """Inputs of many cells as arrays."""
        rows = [self.cell_stats(c, vehicle_type) for c in cells]
        cols = np.array(rows, dtype=np.float64).reshape(len(rows), 4).T
        return CellArrays(cols[0], cols[1], cols[2], cols[3])

    def active_cells(self) -> Iterable[str]:
        """Cells with anything set."""
        return {c for (c, _), s in self.stats.items() if s.supply or s.on_trip or s.demand_1m or s.demand_5m}

    def changed_since(self, version: int) -> tuple[set[str], int]:
        """Cells set after ``version``."""
        return {c for c, v in self._changed.items() if v > version}, self._version

    def driver(self, driver_id: str) -> DriverInfo | None:
        """No drivers here."""
        return None

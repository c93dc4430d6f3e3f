"""The read interface of the market state for the rest of the node (pricing, APIs, snapshots).

Pricing and the REST API depend on this protocol, not on the state's implementation, so the maths
can be tested against any object that answers it. Times are stream time (epoch seconds from the
JetStream message timestamps), never the wall clock, so that a replay answers the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple, Protocol

import numpy as np


class CellStats(NamedTuple):
    """Supply and demand of one cell for one vehicle type at a point in (stream) time."""

    supply: int  # distinct available drivers whose latest ping is in the cell and fresh
    on_trip: int  # distinct on-trip drivers in the cell (utilisation)
    demand_1m: float  # weighted distinct riders with a signal in the last 60 s
    demand_5m: float  # weighted distinct riders with a signal in the last 300 s


class DriverInfo(NamedTuple):
    """What the market knows of a driver: latest position, cell and status."""

    driver_id: str
    lat: float
    lng: float
    cell: str
    status: str
    vehicle_type: str
    ts: float  # stream time of the latest ping


class CellArrays(NamedTuple):
    """Column arrays for many cells at once (same order as the ``cells`` asked for)."""

    supply: np.ndarray  # float64
    on_trip: np.ndarray
    demand_1m: np.ndarray
    demand_5m: np.ndarray


class MarketView(Protocol):
    """Read-only view of the market state."""

    @property
    def applied_seq(self) -> int:
        """Last stream sequence applied to the state (0 when none)."""
        ...

    def now(self) -> float:
        """The evaluation time for windows: stream time of the newest applied message, or the wall clock
        when the consumer is caught up (so that windows keep sliding on a quiet stream)."""
        ...

    def cell_stats(self, cell: str, vehicle_type: str, now: float | None = None) -> CellStats:
        """Supply, on-trip and demand of one cell (zeros for an unknown cell)."""
        ...

    def cell_arrays(self, cells: Sequence[str], vehicle_type: str, now: float | None = None) -> CellArrays:
        """:meth:`cell_stats` for many cells as arrays (the pricing tick's input)."""
        ...

    def active_cells(self) -> Iterable[str]:
        """Cells with any supply, on-trip driver or demand in the 5-minute window."""
        ...

    def changed_since(self, version: int) -> tuple[set[str], int]:
        """Cells whose inputs changed after ``version`` (a counter of this view), and the current version.

        A caller keeps the returned version and passes it next time; version 0 means "everything".
        """
        ...

    def driver(self, driver_id: str) -> DriverInfo | None:
        """Latest known state of a driver, or None."""
        ...

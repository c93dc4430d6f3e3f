"""Per-cell pricing state of one vehicle type, as plain numpy arrays indexed by cell slot.

Hot-path state stays plain: one array per field, grown by doubling when the cell graph grows, so a
tick reads and writes whole slices. Nothing here knows about time or NATS; the engine decides what
the fields mean (see :mod:`.core`).
"""

from __future__ import annotations

import numpy as np

#: field -> (dtype, initial value). "pub_*" is what was last published for the cell (its KV entry);
#: a cell never published counts as published at rest (1.0, low, stable, no supply or demand).
FIELDS: dict[str, tuple[type, float]] = {
    "raw_supply": (np.float64, 0.0),
    "raw_on_trip": (np.float64, 0.0),
    "raw_demand": (np.float64, 0.0),
    "raw_demand_5m": (np.float64, 0.0),
    "sm_supply": (np.float64, 0.0),
    "sm_demand": (np.float64, 0.0),
    "sm_demand_5m": (np.float64, 0.0),
    "pregap": (np.float64, 1.0),  # target after guardrails 1-5
    "target": (np.float64, 1.0),  # target after the neighbour gap (6)
    "value": (np.float64, 1.0),  # the exact served value the ramp has reached (before rounding)
    "pending": (np.int8, 0),  # +1 rise waiting, -1 fall waiting, 0 none
    "since": (np.float64, np.nan),  # when the pending move started
    "last_ts": (np.float64, np.nan),  # when the cell was last priced
    "pub_multiplier": (np.float64, 1.0),
    "pub_level": (np.int8, 0),
    "pub_trend": (np.int8, 1),
    "pub_supply": (np.float64, 0.0),
    "pub_demand": (np.float64, 0.0),
    "live": (np.bool_, False),  # must be priced next tick (inputs or price not at rest)
}


class VtState:
    """The state arrays of one vehicle type (attributes named as in :data:`FIELDS`)."""

    def __init__(self, vehicle_type: str) -> None:
        self.vehicle_type = vehicle_type
        self.capacity = 0
        self.arrays: dict[str, np.ndarray] = {name: np.empty(0, dtype=dtype) for name, (dtype, _) in FIELDS.items()}
        #: per algorithm key: (capacity, state_size) floats, NaN for a cell the algorithm has not seen
        self.algorithm_state: dict[str, np.ndarray] = {}

    def __getattr__(self, name: str) -> np.ndarray:
        try:
            return self.__dict__["arrays"][name]
        except KeyError:
            raise AttributeError(name) from None

    def ensure(self, n: int) -> None:
        """Make room for slots ``0..n-1`` (new slots get their initial values)."""
        if n <= self.capacity:
            return
        capacity = max(n, self.capacity * 2, 64)
        for name, (dtype, initial) in FIELDS.items():
            grown = np.full(capacity, initial, dtype=dtype)
            grown[: self.capacity] = self.arrays[name]
            self.arrays[name] = grown
        for key, old in self.algorithm_state.items():
            grown = np.full((capacity, old.shape[1]), np.nan)
            grown[: self.capacity] = old
            self.algorithm_state[key] = grown
        self.capacity = capacity

    def algorithm_rows(self, key: str, size: int) -> np.ndarray:
        """The state array of one algorithm (created on first use)."""
        rows = self.algorithm_state.get(key)
        if rows is None or rows.shape[1] != size:
            rows = self.algorithm_state[key] = np.full((self.capacity, size), np.nan)
        return rows


__all__ = ["FIELDS", "VtState"]

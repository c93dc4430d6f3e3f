"""Counts per cell and vehicle type, with eviction of empty cells and a change log by version.

A cell's entry is ``{vehicle_type: Counts}``: integer counts of distinct drivers by status and of
distinct riders by their strongest signal kind per demand window (slots ``available, on_trip,
d60 app_open, d60 quote, d60 request, d300 app_open, d300 quote, d300 request``). Integers keep the
state exact (weights are applied when reading), so a state rebuilt from a checkpoint equals the one
that was updated event by event. A vehicle type whose counts are all zero is removed, and a cell
with no vehicle type left is evicted: the table holds only active cells. ``Counts`` is a msgspec
Struct with ``gc=False``: tens of thousands of them cost the cyclic garbage collector nothing.

Every change marks the cell; :meth:`commit` (once per batch or expiry step) stamps the marked cells
with a new version, which is what ``MarketView.changed_since`` answers from.
"""

from __future__ import annotations

import msgspec

AVAILABLE_SLOT, ON_TRIP_SLOT = 0, 1
SLOT_NAMES = ("available", "on_trip", "d60_app_open", "d60_quote", "d60_request", "d300_app_open", "d300_quote",
              "d300_request")


class Counts(msgspec.Struct, gc=False, array_like=True):
    """The counts of one cell and vehicle type."""

    available: int = 0
    on_trip: int = 0
    d60_app_open: int = 0
    d60_quote: int = 0
    d60_request: int = 0
    d300_app_open: int = 0
    d300_quote: int = 0
    d300_request: int = 0

    def is_zero(self) -> bool:
        """True when nothing is counted."""
        return not (self.available or self.on_trip or self.d300_app_open or self.d300_quote or self.d300_request
                    or self.d60_app_open or self.d60_quote or self.d60_request)

    def as_list(self) -> list[int]:
        """The slots in order."""
        return list(msgspec.structs.astuple(self))


def demand_slot(window_index: int, kind: int) -> int:
    """Slot of a demand kind's count in window 0 (60 s) or 1 (300 s)."""
    return 2 + 3 * window_index + kind


class CellTable:
    """Active cells, their counts, and which cells changed at which version."""

    __slots__ = ("_gc_floor", "cell_version", "cells", "changed", "floor_version", "version")

    def __init__(self) -> None:
        self.cells: dict[str, dict[str, Counts]] = {}
        self.changed: set[str] = set()
        self.version = 0
        self.cell_version: dict[str, int] = {}
        #: versions older than this may miss evicted cells that were forgotten (see :meth:`forget_old`)
        self.floor_version = 0
        self._gc_floor = 0

    def add(self, cell: str, vehicle_type: str, slot: int) -> None:
        """Count one more in ``slot``."""
        per_vt = self.cells.get(cell)
        if per_vt is None:
            per_vt = self.cells[cell] = {}
        counts = per_vt.get(vehicle_type)
        if counts is None:
            counts = per_vt[vehicle_type] = Counts()
        name = SLOT_NAMES[slot]
        setattr(counts, name, getattr(counts, name) + 1)
        self.changed.add(cell)

    def sub(self, cell: str, vehicle_type: str, slot: int) -> None:
        """Count one less in ``slot``; evicts the vehicle type and the cell when they reach zero."""
        per_vt = self.cells[cell]
        counts = per_vt[vehicle_type]
        name = SLOT_NAMES[slot]
        left = getattr(counts, name) - 1
        setattr(counts, name, left)
        self.changed.add(cell)
        if left == 0 and counts.is_zero():
            del per_vt[vehicle_type]
            if not per_vt:
                del self.cells[cell]

    def counts(self, cell: str, vehicle_type: str) -> Counts | None:
        """The counts of a cell for a vehicle type, or None (all zero)."""
        per_vt = self.cells.get(cell)
        return None if per_vt is None else per_vt.get(vehicle_type)

    def commit(self) -> int:
        """Stamp the cells changed since the last commit with a new version; returns the current version."""
        if self.changed:
            self.version += 1
            version = self.version
            stamp = self.cell_version
            for cell in self.changed:
                stamp[cell] = version
            self.changed.clear()
        return self.version

    def changed_since(self, version: int) -> set[str]:
        """Cells stamped after ``version``; every cell still known when ``version`` is 0 or too old."""
        if version <= 0 or version < self.floor_version:
            return set(self.cell_version)
        return {cell for cell, v in self.cell_version.items() if v > version}

    def forget_old(self) -> None:
        """Drop change stamps of evicted cells older than the previous call (called periodically)."""
        floor = self._gc_floor
        stale = [c for c, v in self.cell_version.items() if v <= floor and c not in self.cells]
        for cell in stale:
            del self.cell_version[cell]
        if stale:
            self.floor_version = floor + 1
        self._gc_floor = self.version

    def clear(self) -> None:
        """Forget everything (before a restore)."""
        self.cells.clear()
        self.changed.clear()
        self.cell_version.clear()
        self.version += 1
        self.floor_version = self.version
        self._gc_floor = self.version

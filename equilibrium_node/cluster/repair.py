"""Late writes of a deposed leader, undone: the surge-bucket side of the fencing token.

A leader stops writing when its lease ends (the fence), but a write it handed to the NATS client
just before (a process paused mid-publish, a socket buffer drained late) can still reach the surge
bucket after a new leader took over. Every stored leader write carries its term
(``Eq-Leader-Term``), and terms only grow, so while this node leads, a surge entry arriving with an
older term is such a late write: the cell is re-published from this leader's own decision on the
next tick. Entries without a term (written by hand or by tools) are left alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

from ..logs import get_logger
from ..serving.surge_view import SurgeEntry, SurgeView

log = get_logger(__name__)


class Republisher(Protocol):
    """What can publish a cell again on its next tick (the pricing core)."""

    def republish(self, cell: str, vehicle_type: str) -> None:
        """Publish the cell's current decision again next tick."""
        ...


class StaleWriteRepair:
    """While this node leads, re-publishes cells overwritten by an older term (a leader-only service)."""

    name = "stale_writes"

    def __init__(self, view: SurgeView, core: Republisher, term: Callable[[], int]) -> None:
        self.view = view
        self.core = core
        self.term = term
        self.repaired = 0
        self._stop = asyncio.Event()

    def on_entry(self, key: str, entry: SurgeEntry | None) -> None:
        """Surge view listener."""
        if entry is None or entry.term == 0:
            return
        current = self.term()
        if 0 < entry.term < current:
            self.core.republish(entry.update.cell, entry.update.vehicle_type)
            self.repaired += 1
            log.warning("stale_leader_write", key=key, term=entry.term, current_term=current)

    async def run(self) -> None:
        """Listen until stopped."""
        self.view.add_listener(self.on_entry)
        try:
            await self._stop.wait()
        finally:
            self.view.remove_listener(self.on_entry)

    async def stop(self) -> None:
        """Stop listening."""
        self._stop.set()


__all__ = ["StaleWriteRepair"]

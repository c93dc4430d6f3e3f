"""Surge updates: what a tick decided, encoded once, to KV ``eq_<region>_surge`` and ``eq.<region>.surge.<cell>``.

Each update is one :class:`~equilibrium_node.messages.SurgeUpdate` encoded once and written twice:
as the KV entry ``<cell>.<vehicle_type>`` (a stored message on ``$KV.<bucket>.<key>``, what every
node serves from) and on the cell's subject (plain NATS, for live consumers). ``rev`` is the
engine's update sequence, monotonic per region: a new leader continues from the highest ``rev`` in
the bucket.
"""

from __future__ import annotations

import datetime as dt

from ..bus.names import RegionNames
from ..messages import DEMAND_LEVELS, TRENDS, SurgeUpdate, encoder, surge_key
from ..pricing.core import TickBatch
from .writer import Outgoing


def rfc3339(ts: float) -> str:
    """Epoch seconds as RFC 3339 UTC with milliseconds (``2026-11-02T08:15:00.250Z``)."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class SurgeEncoder:
    """Turns tick batches into surge updates and the messages that publish them."""

    def __init__(self, names: RegionNames, rev: int = 0) -> None:
        self.names = names
        self.rev = rev
        self._kv_prefix = f"$KV.{names.surge_bucket}."

    def updates(self, batch: TickBatch, now: float) -> list[SurgeUpdate]:
        """The surge updates of a batch, each with the next ``rev``."""
        stamp = rfc3339(now)
        out = []
        vt = batch.vehicle_type
        rows = zip(batch.cells, batch.zone_ids, batch.algorithms, batch.multiplier.tolist(), batch.supply.tolist(),
                   batch.demand.tolist(), batch.level.tolist(), batch.trend.tolist(), strict=True)
        for cell, zone_id, algorithm, multiplier, supply, demand, level, trend in rows:
            self.rev += 1
            out.append(SurgeUpdate(cell, zone_id, vt, multiplier, round(supply, 2), round(demand, 2),
                                   DEMAND_LEVELS[level], TRENDS[trend], algorithm, self.rev, stamp))  # type: ignore[arg-type]
        return out

    def messages(self, updates: list[SurgeUpdate]) -> list[Outgoing]:
        """KV entries first (the source of truth), then the subjects."""
        encoded = [(u, encoder.encode(u)) for u in updates]
        kv = [Outgoing(self._kv_prefix + surge_key(u.cell, u.vehicle_type), raw, True, None, u) for u, raw in encoded]
        plain = [Outgoing(self.names.surge_subject(u.cell), raw, False) for u, raw in encoded]
        return kv + plain


__all__ = ["SurgeEncoder", "rfc3339"]

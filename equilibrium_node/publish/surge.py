"""Surge updates: what a tick decided, encoded once, to KV ``eq_<region>_surge`` and ``eq.<region>.surge.<cell>``.

Each update is one :class:`~equilibrium_node.messages.SurgeUpdate` encoded once and written twice:
as the KV entry ``<cell>.<vehicle_type>`` (a stored message on ``$KV.<bucket>.<key>``, what every
node serves from) and on the cell's subject (plain NATS, for live consumers). ``rev`` is the
engine's update sequence, monotonic per region: a new leader continues from the highest ``rev`` in
the bucket.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from ..bus.names import RegionNames
from ..messages import DEMAND_LEVELS, TRENDS, SurgeUpdate, encoder
from ..pricing.core import TickBatch
from .writer import Outgoing

_LEVELS = np.array(DEMAND_LEVELS, dtype=object)
_TRENDS = np.array(TRENDS, dtype=object)


def rfc3339(ts: float) -> str:
    """Epoch seconds as RFC 3339 UTC with milliseconds (``2026-11-02T08:15:00.250Z``)."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class SurgeEncoder:
    """Turns tick batches into surge updates and the messages that publish them."""

    def __init__(self, names: RegionNames, rev: int = 0) -> None:
        self.names = names
        self.rev = rev
        self._kv_prefix = f"$KV.{names.surge_bucket}."  # + surge_key(cell, vehicle_type)
        self._subject_prefix = names.surge_subject("")

    def updates(self, batch: TickBatch, now: float) -> list[SurgeUpdate]:
        """The surge updates of a batch, each with the next ``rev``."""
        stamp = rfc3339(now)
        vt = batch.vehicle_type
        first = self.rev + 1
        self.rev += len(batch.cells)
        rows = zip(batch.cells, batch.zone_ids, batch.algorithms, batch.multiplier.tolist(),
                   np.round(batch.supply, 2).tolist(), np.round(batch.demand, 2).tolist(),
                   _LEVELS[batch.level].tolist(), _TRENDS[batch.trend].tolist(), range(first, self.rev + 1),
                   strict=True)
        return [SurgeUpdate(cell, zone_id, vt, multiplier, supply, demand, level, trend, algorithm, rev, stamp)
                for cell, zone_id, algorithm, multiplier, supply, demand, level, trend, rev in rows]

    def messages(self, updates: list[SurgeUpdate]) -> list[Outgoing]:
        """KV entries first (the source of truth), then the subjects."""
        encoded = [encoder.encode(u) for u in updates]
        prefix, subject = self._kv_prefix, self._subject_prefix
        kv = [Outgoing(f"{prefix}{u.cell}.{u.vehicle_type}", raw, True, None, u)
              for u, raw in zip(updates, encoded, strict=True)]
        plain = [Outgoing(subject + u.cell, raw, False) for u, raw in zip(updates, encoded, strict=True)]
        return kv + plain


__all__ = ["SurgeEncoder", "rfc3339"]

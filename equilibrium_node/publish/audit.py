"""Audit records: every change of a served multiplier, to ``eq.<region>.audit.pricing`` (stream ``EQ_AUDIT_<REGION>``).

A record carries the zone, cell and vehicle type, the old and new multiplier, the trigger reason
(``"<rise|fall>:<cause>"``, causes in :data:`equilibrium_node.pricing.derive.CAUSES`), the raw
supply and demand the decision saw, the algorithm and the time. ``Nats-Msg-Id`` is
``<cell>.<vehicle_type>.<rev>`` so that a retried publish is stored once.
"""

from __future__ import annotations

from ..bus.names import RegionNames
from ..messages import MSG_ID_HEADER, AuditRecord, SurgeUpdate, encoder
from ..pricing.core import TickBatch
from .writer import Outgoing


def audit_records(batch: TickBatch, updates: list[SurgeUpdate], now: float) -> list[tuple[AuditRecord, int]]:
    """(record, rev) for every row of ``batch`` whose served multiplier changed (``updates`` row-aligned)."""
    out = []
    for i, flagged in enumerate(batch.audit.tolist()):
        if flagged:
            u = updates[i]
            out.append((AuditRecord(u.zone_id, u.cell, u.vehicle_type, float(batch.old_multiplier[i]), u.multiplier,
                                    batch.reasons[i], u.supply, u.demand, u.algorithm, now), u.rev))
    return out


def audit_messages(names: RegionNames, records: list[tuple[AuditRecord, int]]) -> list[Outgoing]:
    """The stored messages of the audit records."""
    subject = names.audit_subject
    return [Outgoing(subject, encoder.encode(r), True, {MSG_ID_HEADER: f"{r.cell}.{r.vehicle_type}.{rev}"}, r)
            for r, rev in records]


__all__ = ["audit_messages", "audit_records"]

"""Encoding a tick's decisions: surge updates (KV + subject), audit records."""

from __future__ import annotations

import numpy as np

from equilibrium_node.bus.names import RegionNames
from equilibrium_node.messages import MSG_ID_HEADER, audit_record_decoder, surge_update_decoder
from equilibrium_node.pricing.core import TickBatch
from equilibrium_node.publish.audit import audit_messages, audit_records
from equilibrium_node.publish.surge import SurgeEncoder, rfc3339


def batch() -> TickBatch:
    return TickBatch("xl", ["8085809c", "808580a4"], ["soma", "sf_default"], ["linear", "ml"],
                     np.array([1.7, 1.0]), np.array([1.0, 1.0]), np.array([3.0, 5.0]), np.array([9.123, 0.0]),
                     np.array([3, 0], dtype=np.int8), np.array([0, 1], dtype=np.int8), np.array([True, False]),
                     ["rise:market", ""])


def test_updates_carry_the_contract_fields_and_a_monotonic_rev():
    enc = SurgeEncoder(RegionNames("sf"), rev=41)
    updates = enc.updates(batch(), 1_790_000_000.25)
    assert [u.rev for u in updates] == [42, 43] and enc.rev == 43
    u = updates[0]
    assert (u.cell, u.zone_id, u.vehicle_type, u.multiplier, u.supply, u.demand) == (
        "8085809c", "soma", "xl", 1.7, 3.0, 9.12)
    assert (u.demand_level, u.trend, u.algorithm) == ("very_high", "increasing", "linear")
    assert u.updated_at == rfc3339(1_790_000_000.25) == "2026-09-21T14:13:20.250Z"
    messages = enc.messages(updates)
    assert [m.subject for m in messages] == ["$KV.eq_sf_surge.8085809c.xl", "$KV.eq_sf_surge.808580a4.xl",
                                             "eq.sf.surge.8085809c", "eq.sf.surge.808580a4"]
    assert [m.stored for m in messages] == [True, True, False, False]
    assert surge_update_decoder.decode(messages[0].payload) == u
    assert messages[0].payload == messages[2].payload  # encoded once


def test_audit_only_for_changed_multipliers():
    enc = SurgeEncoder(RegionNames("sf"))
    b = batch()
    updates = enc.updates(b, 100.0)
    records = audit_records(b, updates, 100.0)
    assert len(records) == 1
    record, rev = records[0]
    assert (record.old_multiplier, record.new_multiplier, record.trigger_reason) == (1.0, 1.7, "rise:market")
    assert (record.supply, record.demand, record.algorithm, record.zone_id, record.ts) == (3.0, 9.12, "linear",
                                                                                          "soma", 100.0)
    (msg,) = audit_messages(RegionNames("sf"), records)
    assert msg.subject == "eq.sf.audit.pricing" and msg.stored
    assert msg.headers == {MSG_ID_HEADER: f"8085809c.xl.{rev}"}
    assert audit_record_decoder.decode(msg.payload) == record

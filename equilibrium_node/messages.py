"""Wire Structs of the NATS contract (CONTRACT.md): input events, surge updates, audit records, zone snapshots.

Encoders and decoders are built once here and shared; hot paths decode with them directly. The
input Structs only describe the shape: range checks and reject reasons live in the intake stage,
which must classify every bad message (DLQ reason) instead of failing on the first one.
"""

from __future__ import annotations

from typing import Literal

import msgspec
from msgspec import Struct

DriverStatus = Literal["available", "on_trip", "offline"]
DemandKind = Literal["app_open", "quote", "request"]
DemandLevel = Literal["low", "normal", "high", "very_high"]
Trend = Literal["increasing", "stable", "decreasing"]

DRIVER_STATUSES: tuple[str, ...] = ("available", "on_trip", "offline")
DEMAND_KINDS: tuple[str, ...] = ("app_open", "quote", "request")
DEMAND_LEVELS: tuple[str, ...] = ("low", "normal", "high", "very_high")
TRENDS: tuple[str, ...] = ("increasing", "stable", "decreasing")

#: Header that carries a rejected message's reason on its DLQ copy.
REJECT_HEADER = "Eq-Reject-Reason"
#: Header publishers set to the event id so the stream drops duplicates.
MSG_ID_HEADER = "Nats-Msg-Id"
#: Header of every stored leader write (surge entries, audit records, pricing state): the writer's lease
#: term, the fencing token of ``equilibrium_node.cluster.lease``.
TERM_HEADER = "Eq-Leader-Term"


class DriverPing(Struct, frozen=True):
    """``eq.<region>.location.driver``: where a driver is and whether they can take a ride."""

    event_id: str
    driver_id: str
    lat: float
    lng: float
    status: DriverStatus
    vehicle_type: str
    ts: float


class DemandSignal(Struct, frozen=True):
    """``eq.<region>.location.rider``: a rider showing demand at a point."""

    event_id: str
    rider_id: str
    lat: float
    lng: float
    kind: DemandKind
    vehicle_type: str
    ts: float


class SurgeUpdate(Struct, frozen=True):
    """``eq.<region>.surge.<cell>`` and KV ``eq_<region>_surge`` key ``<cell>.<vehicle_type>``.

    ``rev`` is the pricing engine's update sequence (monotonic per region); the KV revision of the
    entry is what streams use for resume. ``updated_at`` is RFC 3339 UTC.
    """

    cell: str
    zone_id: str
    vehicle_type: str
    multiplier: float
    supply: float
    demand: float
    demand_level: DemandLevel
    trend: Trend
    algorithm: str
    rev: int
    updated_at: str


class AuditRecord(Struct, frozen=True):
    """``eq.<region>.audit.pricing``: one change of a served multiplier and why."""

    zone_id: str
    cell: str
    vehicle_type: str
    old_multiplier: float
    new_multiplier: float
    trigger_reason: str
    supply: float
    demand: float
    algorithm: str
    ts: float


class ZoneSnapshot(Struct, frozen=True):
    """``eq.<region>.snapshot.zone`` (stream ``EQ_SNAP_<REGION>``): one zone and vehicle type at one snapshot.

    The leader writes one per active zone and vehicle type every ``snapshot.interval_s``. ``ts`` is
    the record's own time (epoch seconds, a multiple of the interval): history and analytics bucket
    by it, never by the stream's timestamp (which only says when the record was stored). Market
    figures are readings at ``ts``; ``quotes`` and ``accepts`` count the quote funnel's signals
    consumed since the previous snapshot, up to location-stream sequence ``seq`` (the funnel's
    watermark: a new leader continues counting after it, so no signal is counted twice or lost).
    """

    zone_id: str
    vehicle_type: str
    ts: float
    interval_s: float
    supply: int  # available drivers in the zone's cells
    on_trip: int  # on-trip drivers in the zone's cells
    demand: float  # weighted riders of the last minute over the zone's cells (the pricing input)
    cells: int  # cells of the zone with a served multiplier
    mean_multiplier: float  # mean served multiplier over those cells (1.0 when none)
    max_multiplier: float  # highest served multiplier among them (1.0 when none)
    quotes: int  # quotes issued by the REST API (signals of kind quote with a q-<nonce> event id)
    accepts: int  # quotes accepted (signals of kind request with an r-<nonce> event id)
    seq: int  # last location-stream sequence whose signals are counted (this or an earlier snapshot)


driver_ping_decoder = msgspec.json.Decoder(DriverPing)
demand_signal_decoder = msgspec.json.Decoder(DemandSignal)
surge_update_decoder = msgspec.json.Decoder(SurgeUpdate)
audit_record_decoder = msgspec.json.Decoder(AuditRecord)
zone_snapshot_decoder = msgspec.json.Decoder(ZoneSnapshot)
encoder = msgspec.json.Encoder()


def surge_key(cell: str, vehicle_type: str) -> str:
    """KV key of a cell's surge update for one vehicle type."""
    return f"{cell}.{vehicle_type}"


def split_surge_key(key: str) -> tuple[str, str]:
    """Inverse of :func:`surge_key`."""
    cell, _, vehicle_type = key.partition(".")
    return cell, vehicle_type

"""Decoding a batch of stream messages into column lists for the market state, plus the rejects.

One pass over the batch: the subject says driver or rider, the strict msgspec decoder does the shape
and range checks in C, a set lookup checks the vehicle type against the live fare table. Bad
messages are classified (:func:`.validate.reject_reason`) and listed with their index; the rest of
the batch goes on. Stream time (the JetStream timestamp) comes with each message; a ping whose
device ``ts`` is more than ``max_event_age_s`` older than its stream time is valid but too old to
apply and is counted as dropped. No I/O here: the caller publishes rejects and applies the columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..errors import Reject
from .validate import DEMAND_KIND_CODES, DRIVER_STATUS_CODES, driver_decoder, reject_reason, rider_decoder

_NS = 1e-9


@dataclass(slots=True)
class Columns:
    """Accepted events of one kind, column by column, in stream order."""

    ids: list[str] = field(default_factory=list)
    vehicle_types: list[str] = field(default_factory=list)
    codes: list[int] = field(default_factory=list)  # driver status or demand kind code
    lats: list[float] = field(default_factory=list)
    lngs: list[float] = field(default_factory=list)
    stream_ts: list[float] = field(default_factory=list)  # stream time, epoch seconds
    device_ts: list[float] = field(default_factory=list)
    seqs: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(slots=True)
class DecodedBatch:
    """A batch split into accepted drivers and riders, rejects (index, reason) and too-old drops."""

    drivers: Columns = field(default_factory=Columns)
    riders: Columns = field(default_factory=Columns)
    rejects: list[tuple[int, str]] = field(default_factory=list)
    too_old: dict[str, int] = field(default_factory=lambda: {"driver": 0, "rider": 0})


def decode_batch(subjects: Sequence[str], payloads: Sequence[bytes], seqs: Sequence[int], ts_ns: Sequence[int], *,
                 driver_subject: str, rider_subject: str, vehicle_types: frozenset[str] | set[str],
                 max_event_age_s: float) -> DecodedBatch:
    """Decode and validate one batch (the lists are parallel, in stream order)."""
    out = DecodedBatch()
    d, r = out.drivers, out.riders
    dec_driver, dec_rider = driver_decoder.decode, rider_decoder.decode
    statuses, kinds = DRIVER_STATUS_CODES, DEMAND_KIND_CODES
    for i, subject in enumerate(subjects):
        raw = payloads[i]
        if subject == driver_subject:
            kind, col, decode = "driver", d, dec_driver
        elif subject == rider_subject:
            kind, col, decode = "rider", r, dec_rider
        else:
            out.rejects.append((i, Reject.UNKNOWN_SUBJECT))
            continue
        try:
            ev = decode(raw)
        except Exception:  # msgspec.DecodeError / ValidationError: classify on the slow path
            out.rejects.append((i, reject_reason(raw, kind, vehicle_types) or Reject.BAD_TYPE))
            continue
        vt = ev.vehicle_type
        if vt not in vehicle_types:
            out.rejects.append((i, Reject.UNKNOWN_VEHICLE_TYPE))
            continue
        t = ts_ns[i] * _NS
        if t - ev.ts > max_event_age_s:
            out.too_old[kind] += 1
            continue
        if col is d:
            col.ids.append(ev.driver_id)
            col.codes.append(statuses[ev.status])
        else:
            col.ids.append(ev.rider_id)
            col.codes.append(kinds[ev.kind])
        col.vehicle_types.append(vt)
        col.lats.append(ev.lat)
        col.lngs.append(ev.lng)
        col.stream_ts.append(t)
        col.device_ts.append(ev.ts)
        col.seqs.append(seqs[i])
    return out

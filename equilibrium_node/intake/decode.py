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

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(slots=True)
class DecodedBatch:
    """A batch split into accepted drivers and riders, rejects (index, reason) and too-old drops."""

    drivers: Columns = field(default_factory=Columns)
    riders: Columns = field(default_factory=Columns)
    rejects: list[tuple[int, str]] = field(default_factory=list)
    too_old: dict[str, int] = field(default_factory=lambda: {"driver": 0, "rider": 0})


def _decode_kind(decode, raws: list[bytes]) -> list:
    """Decode every payload; an element is the event or None where the strict decoder refused it."""
    try:
        return list(map(decode, raws))  # the usual case: all valid, no per-message try
    except Exception:  # msgspec.DecodeError / ValidationError: find which ones
        out = []
        for raw in raws:
            try:
                out.append(decode(raw))
            except Exception:
                out.append(None)
        return out


def _fill(col: Columns, evs: list, codes: list[int], ids: list[str], stream_ts: list[float]) -> None:
    col.ids = ids
    col.codes = codes
    col.vehicle_types = [e.vehicle_type for e in evs]
    col.lats = [e.lat for e in evs]
    col.lngs = [e.lng for e in evs]
    col.device_ts = [e.ts for e in evs]
    col.stream_ts = stream_ts


def decode_batch(subjects: Sequence[str], payloads: Sequence[bytes], ts_ns: Sequence[int], *,
                 driver_subject: str, rider_subject: str, vehicle_types: frozenset[str] | set[str],
                 max_event_age_s: float) -> DecodedBatch:
    """Decode and validate one batch (the lists are parallel, in stream order).

    Written as a few list comprehensions per kind rather than one loop with branches: the per-message
    cost is what bounds the node's ingest rate.
    """
    out = DecodedBatch()
    d_idx = [i for i, s in enumerate(subjects) if s == driver_subject]
    r_idx = [i for i, s in enumerate(subjects) if s == rider_subject]
    if len(d_idx) + len(r_idx) < len(subjects):
        known = set(d_idx) | set(r_idx)
        out.rejects.extend((i, Reject.UNKNOWN_SUBJECT) for i in range(len(subjects)) if i not in known)
    for kind, idx, decoder, col in (("driver", d_idx, driver_decoder, out.drivers),
                                    ("rider", r_idx, rider_decoder, out.riders)):
        if not idx:
            continue
        evs = _decode_kind(decoder.decode, [payloads[i] for i in idx])
        stream_ts = [ts_ns[i] * _NS for i in idx]
        ok = [k for k, e in enumerate(evs)
              if e is not None and e.vehicle_type in vehicle_types and stream_ts[k] - e.ts <= max_event_age_s]
        if len(ok) < len(evs):
            for k, e in enumerate(evs):
                if e is None:
                    raw = payloads[idx[k]]
                    out.rejects.append((idx[k], reject_reason(raw, kind, vehicle_types) or Reject.BAD_TYPE))
                elif e.vehicle_type not in vehicle_types:
                    out.rejects.append((idx[k], Reject.UNKNOWN_VEHICLE_TYPE))
                elif stream_ts[k] - e.ts > max_event_age_s:
                    out.too_old[kind] += 1
            idx = [idx[k] for k in ok]
            evs = [evs[k] for k in ok]
            stream_ts = [stream_ts[k] for k in ok]
        if kind == "driver":
            _fill(col, evs, [DRIVER_STATUS_CODES[e.status] for e in evs], [e.driver_id for e in evs], stream_ts)
        else:
            _fill(col, evs, [DEMAND_KIND_CODES[e.kind] for e in evs], [e.rider_id for e in evs], stream_ts)
    out.rejects.sort()
    return out

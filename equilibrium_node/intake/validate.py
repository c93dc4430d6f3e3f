"""Input validation: strict decoders for the fast path, and the reason a bad message is rejected.

The fast path decodes each payload with a msgspec Struct whose constraints (string lengths,
coordinate ranges, enums, a positive ``ts``) are checked in C; almost every message passes. A
message that fails is classified once, on the slow path, by :func:`reject_reason`, which parses the
payload leniently (Python's ``json`` accepts ``NaN`` and ``Infinity``, which some publishers emit)
and checks the fields in a fixed order, so the same message always gets the same reason:

1. not JSON (or not UTF-8) -> ``not_json``; JSON but not an object -> ``bad_type``;
2. per field in contract order: missing -> ``missing_field``; wrong JSON type (a bool is not a
   number) -> ``bad_type``; a string over 64 characters -> ``string_too_long``; a NaN or infinite
   number -> ``not_finite``; ``lat`` outside [-90, 90], ``lng`` outside [-180, 180] or ``ts`` <= 0
   -> ``out_of_range``; an unknown ``status`` / ``kind`` -> ``unknown_status`` / ``unknown_kind``;
3. a vehicle type the region's live fare table does not know -> ``unknown_vehicle_type``.

Unknown extra fields are allowed (publishers may add fields before the node knows them).
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from ..errors import Reject

MAX_STRING = 64
Str64 = Annotated[str, Meta(max_length=MAX_STRING)]
Lat = Annotated[float, Meta(ge=-90.0, le=90.0)]
Lng = Annotated[float, Meta(ge=-180.0, le=180.0)]
Ts = Annotated[float, Meta(gt=0.0)]

DRIVER_STATUS_CODES = {"available": 0, "on_trip": 1, "offline": 2}
DEMAND_KIND_CODES = {"app_open": 0, "quote": 1, "request": 2}


class DriverPingIn(msgspec.Struct, gc=False):
    """A driver ping as the intake accepts it (shape of ``messages.DriverPing`` plus the contract's limits)."""

    event_id: Str64
    driver_id: Str64
    lat: Lat
    lng: Lng
    status: Literal["available", "on_trip", "offline"]
    vehicle_type: Str64
    ts: Ts


class DemandSignalIn(msgspec.Struct, gc=False):
    """A rider demand signal as the intake accepts it."""

    event_id: Str64
    rider_id: Str64
    lat: Lat
    lng: Lng
    kind: Literal["app_open", "quote", "request"]
    vehicle_type: Str64
    ts: Ts


driver_decoder = msgspec.json.Decoder(DriverPingIn)
rider_decoder = msgspec.json.Decoder(DemandSignalIn)

_STR, _NUM, _ENUM = "str", "num", "enum"
_DRIVER_FIELDS = (("event_id", _STR), ("driver_id", _STR), ("lat", _NUM), ("lng", _NUM), ("status", _ENUM),
                  ("vehicle_type", _STR), ("ts", _NUM))
_RIDER_FIELDS = (("event_id", _STR), ("rider_id", _STR), ("lat", _NUM), ("lng", _NUM), ("kind", _ENUM),
                 ("vehicle_type", _STR), ("ts", _NUM))
_RANGES = {"lat": (-90.0, 90.0), "lng": (-180.0, 180.0)}


def _lenient(raw: bytes) -> object:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ValueError from None


def _field_reason(name: str, kind: str, value: object, enum: dict[str, int]) -> str | None:
    if kind == _NUM:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return Reject.BAD_TYPE
        number = float(value) if not isinstance(value, int) or abs(value) < 2**1023 else math.inf
        if not math.isfinite(number):
            return Reject.NOT_FINITE
        if name in _RANGES:
            lo, hi = _RANGES[name]
            if not lo <= number <= hi:
                return Reject.OUT_OF_RANGE
        elif number <= 0:  # ts
            return Reject.OUT_OF_RANGE
        return None
    if not isinstance(value, str):
        return Reject.BAD_TYPE
    if len(value) > MAX_STRING:
        return Reject.STRING_TOO_LONG
    if kind == _ENUM and value not in enum:
        return Reject.UNKNOWN_STATUS if enum is DRIVER_STATUS_CODES else Reject.UNKNOWN_KIND
    return None


def reject_reason(raw: bytes, kind: str, vehicle_types: frozenset[str] | set[str]) -> str | None:
    """Why a payload of ``kind`` ("driver" or "rider") is rejected, or None when it is valid."""
    try:
        doc = _lenient(raw)
    except ValueError:
        return Reject.NOT_JSON
    if not isinstance(doc, dict):
        return Reject.BAD_TYPE
    fields, enum = (_DRIVER_FIELDS, DRIVER_STATUS_CODES) if kind == "driver" else (_RIDER_FIELDS, DEMAND_KIND_CODES)
    for name, field_kind in fields:
        if name not in doc:
            return Reject.MISSING_FIELD
        reason = _field_reason(name, field_kind, doc[name], enum)
        if reason is not None:
            return reason
    if doc["vehicle_type"] not in vehicle_types:
        return Reject.UNKNOWN_VEHICLE_TYPE
    return None

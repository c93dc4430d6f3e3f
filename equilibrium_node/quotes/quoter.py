"""The quote calculation: fare, served surge and signed terms for a trip, from what this node holds in memory.

No I/O and no await: the fare table and zones come from the live config snapshot, the multiplier from
the surge mirror (key ``<pickup cell>.<vehicle_type>``) through the degraded-mode policy, the id from
the signer. The result is everything the REST layer returns and signs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from ..errors import ApiError, Code
from ..geo.point_cell import point_token
from ..live_config import ConfigSnapshot
from ..pricing import fares
from ..serving.degraded import Freshness, served_multiplier
from ..serving.surge_view import SurgeView
from ..settings import QuoteSettings
from .token import QuoteClaims, QuoteSigner

NONCE_BYTES = 12
#: Demand level shown for a cell the pricing engine has not priced (no activity there).
UNPRICED_LEVEL = "low"


class Trip(NamedTuple):
    """What a rider asks a price for."""

    pickup_lat: float
    pickup_lng: float
    dropoff_lat: float
    dropoff_lng: float
    vehicle_type: str
    user_id: str


class Quote(NamedTuple):
    """A signed quote and what the rider is shown besides its claims."""

    quote_id: str
    claims: QuoteClaims
    zone_name: str
    demand_level: str


_last_second: list = [None, ""]


def rfc3339_ms(epoch_ms: int) -> str:
    """Epoch milliseconds as RFC 3339 UTC with milliseconds (``2024-05-01T17:03:12.345Z``).

    The date-time part is formatted once per second (quotes of one second share it).
    """
    second, ms = divmod(epoch_ms, 1000)
    if _last_second[0] != second:
        _last_second[1] = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _last_second[0] = second
    return f"{_last_second[1]}.{ms:03d}Z"


@dataclass
class Quoter:
    """Prices trips for one region."""

    region: str
    cell_level: int
    currency: str
    timezone: str
    settings: QuoteSettings
    config: Callable[[], ConfigSnapshot]
    surge: SurgeView
    freshness: Callable[[], Freshness]
    signer: QuoteSigner

    def __post_init__(self) -> None:
        self._tz = ZoneInfo(self.timezone)
        self._ttl_ms = round(self.settings.ttl_s * 1000)
        self._hour_until = 0.0
        self._hour = 0

    def _local_hour(self, now_s: float) -> int:
        # the hour changes rarely: recompute at most once a minute (a quote may be up to 60 s late switching)
        if now_s >= self._hour_until:
            self._hour = fares.local_hour(now_s, self._tz)
            self._hour_until = now_s + 60.0 - now_s % 60.0
        return self._hour

    def quote(self, trip: Trip, now_s: float | None = None) -> Quote:
        """Price and sign a trip; :class:`ApiError` 400 for an unknown vehicle type."""
        now = time.time() if now_s is None else now_s
        snap = self.config()
        fare = snap.fares.get(trip.vehicle_type)
        if fare is None:
            raise ApiError(f"unknown vehicle type {trip.vehicle_type[:64]!r}; known: {', '.join(snap.fares)}",
                           code=Code.UNKNOWN_VEHICLE_TYPE, field="vehicle_type")
        pickup = point_token(trip.pickup_lat, trip.pickup_lng, self.cell_level)
        dropoff = point_token(trip.dropoff_lat, trip.dropoff_lng, self.cell_level)
        zone_id = snap.zone_index.zone_of_cell(pickup)
        entry = self.surge.get(pickup, trip.vehicle_type)
        fresh = self.freshness()
        if entry is None:
            multiplier, level = served_multiplier(None, fresh, snap.rules), UNPRICED_LEVEL
        else:
            multiplier, level = served_multiplier(entry.update.multiplier, fresh, snap.rules), entry.update.demand_level
        est = fares.estimate_trip(trip.pickup_lat, trip.pickup_lng, trip.dropoff_lat, trip.dropoff_lng,
                                  detour_factor=self.settings.detour_factor,
                                  speed_kmh_by_hour=self.settings.speed_kmh_by_hour, hour=self._local_hour(now))
        price = fares.price(fare, est, multiplier)
        issued_ms = int(now * 1000)
        claims = QuoteClaims(
            region=self.region, vehicle_type=trip.vehicle_type, pickup_cell=pickup, dropoff_cell=dropoff,
            zone_id=zone_id, base_cents=price.base_cents, final_cents=price.final_cents, multiplier=multiplier,
            currency=self.currency, distance_km=round(est.distance_km, 2), duration_min=round(est.duration_min, 1),
            issued_ms=issued_ms, expires_ms=issued_ms + self._ttl_ms, user_id=trip.user_id,
            degraded=fresh.degraded, nonce=os.urandom(NONCE_BYTES))
        quote_id, _key = self.signer.sign(claims)
        return Quote(quote_id, claims, snap.zone_index.zone_name(zone_id), level)


__all__ = ["Quote", "Quoter", "Trip", "rfc3339_ms"]

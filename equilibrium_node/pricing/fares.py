"""Fare maths for rider quotes: trip distance and duration, the pre-surge fare and the surged fare.

Pure functions, no I/O, money in integer cents so that rounding is exact and the same on every node:

- **distance** = great-circle distance × the region's detour factor (road distance is longer than
  the straight line), in km;
- **duration** = distance / average road speed at the *local* hour of the request (the region's time
  zone, ``quote.speed_kmh_by_hour``), in minutes;
- **base fare** = ``base + per_km × km + per_min × min + booking_fee``, at least ``minimum``;
- **final fare** = base fare × surge multiplier, rounded half-up to the cent.

The booking fee is part of the base fare and is therefore surged with it: the response keeps the
contract's arithmetic ``final_fare = base_fare × surge_multiplier`` (base 8.50 at surge 1.3 gives
11.05) for every fare table, so a rider app can show the surge as a plain product. The minimum fare
applies before surge.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from ..geo.cells import distance_m
from ..settings import Fare

#: A float product like 850 × 1.3 may land a hair under the half cent; this nudge keeps half-up exact.
_EPS = 1e-6


class Trip(NamedTuple):
    """Estimated road distance and duration of a trip."""

    distance_km: float
    duration_min: float


class Price(NamedTuple):
    """A quoted price in cents: before and after surge."""

    base_cents: int
    final_cents: int


def to_cents(amount: float) -> int:
    """An amount of money rounded half-up to whole cents."""
    return math.floor(amount * 100 + 0.5 + _EPS)


def trip_distance_km(lat1: float, lng1: float, lat2: float, lng2: float, detour_factor: float) -> float:
    """Road distance estimate: great-circle distance × detour factor, in km."""
    return distance_m(lat1, lng1, lat2, lng2) * detour_factor / 1000.0


def trip_duration_min(distance_km: float, speed_kmh: float) -> float:
    """Minutes to drive ``distance_km`` at ``speed_kmh``."""
    return distance_km / speed_kmh * 60.0


def local_hour(epoch_s: float, tz: ZoneInfo) -> int:
    """Hour of the day (0..23) at ``epoch_s`` in the region's time zone."""
    return datetime.fromtimestamp(epoch_s, tz).hour


def estimate_trip(lat1: float, lng1: float, lat2: float, lng2: float, *, detour_factor: float,
                  speed_kmh_by_hour: list[float], hour: int) -> Trip:
    """Distance and duration of a trip starting at local ``hour``."""
    km = trip_distance_km(lat1, lng1, lat2, lng2, detour_factor)
    return Trip(km, trip_duration_min(km, speed_kmh_by_hour[hour]))


def base_fare_cents(fare: Fare, trip: Trip) -> int:
    """The pre-surge fare in cents: base + distance + time + booking fee, at least the minimum."""
    amount = fare.base + fare.per_km * trip.distance_km + fare.per_min * trip.duration_min + fare.booking_fee
    return to_cents(max(amount, fare.minimum))


def surged_cents(base_cents: int, multiplier: float) -> int:
    """``base_cents × multiplier`` rounded half-up to the cent (850 × 1.3 = 1105)."""
    return math.floor(base_cents * multiplier + 0.5 + _EPS)


def price(fare: Fare, trip: Trip, multiplier: float) -> Price:
    """The quoted price of a trip at a multiplier."""
    base = base_fare_cents(fare, trip)
    return Price(base, surged_cents(base, multiplier))


__all__ = ["Price", "Trip", "base_fare_cents", "estimate_trip", "local_hour", "price", "surged_cents", "to_cents",
           "trip_distance_km", "trip_duration_min"]

"""Fare maths: the contract example, rounding, minimum, distance and duration model."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from equilibrium_node.geo.cells import distance_m
from equilibrium_node.pricing import fares
from equilibrium_node.settings import Fare


def test_contract_example_base_850_surge_13_is_1105():
    flat = Fare(base=8.50, per_km=0.0, per_min=0.0)
    price = fares.price(flat, fares.Trip(3.0, 10.0), 1.3)
    assert price == fares.Price(850, 1105)


@given(base_cents=st.integers(0, 1_000_000), tenths=st.integers(10, 100))
def test_surge_rounds_half_up_like_decimal(base_cents, tenths):
    multiplier = tenths / 10
    exact = (Decimal(base_cents) * Decimal(tenths) / Decimal(10)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    assert fares.surged_cents(base_cents, multiplier) == int(exact)


def test_fare_components_booking_fee_and_minimum():
    fare = Fare(base=2.50, per_km=1.20, per_min=0.35, booking_fee=2.75, minimum=8.00)
    # 2.50 + 1.20*5 + 0.35*12 + 2.75 = 15.45; the booking fee is part of the base fare, so it is surged
    assert fares.price(fare, fares.Trip(5.0, 12.0), 1.0) == fares.Price(1545, 1545)
    assert fares.price(fare, fares.Trip(5.0, 12.0), 2.0) == fares.Price(1545, 3090)
    # a short trip costs the minimum (before surge)
    assert fares.price(fare, fares.Trip(0.2, 1.0), 1.5) == fares.Price(800, 1200)


def test_distance_is_great_circle_times_detour():
    lat1, lng1, lat2, lng2 = 37.7880, -122.4000, 37.7700, -122.4200
    straight_km = distance_m(lat1, lng1, lat2, lng2) / 1000
    assert 2.5 < straight_km < 2.8
    assert fares.trip_distance_km(lat1, lng1, lat2, lng2, 1.3) == pytest.approx(straight_km * 1.3)


def test_duration_uses_speed_of_the_local_hour():
    speeds = [30.0] * 24
    speeds[8] = 15.0
    slow = fares.estimate_trip(37.78, -122.40, 37.80, -122.40, detour_factor=1.0, speed_kmh_by_hour=speeds, hour=8)
    fast = fares.estimate_trip(37.78, -122.40, 37.80, -122.40, detour_factor=1.0, speed_kmh_by_hour=speeds, hour=3)
    assert slow.duration_min == pytest.approx(2 * fast.duration_min)
    assert fast.duration_min == pytest.approx(fast.distance_km / 30 * 60)


def test_local_hour_follows_the_region_time_zone_and_dst():
    tz = ZoneInfo("America/Los_Angeles")
    summer = datetime(2024, 7, 1, 15, 30, tzinfo=UTC).timestamp()  # PDT, UTC-7
    winter = datetime(2024, 1, 15, 15, 30, tzinfo=UTC).timestamp()  # PST, UTC-8
    assert fares.local_hour(summer, tz) == 8
    assert fares.local_hour(winter, tz) == 7


def test_to_cents_half_up():
    assert fares.to_cents(11.045) == 1105
    assert fares.to_cents(0.005) == 1
    assert fares.to_cents(8.5) == 850

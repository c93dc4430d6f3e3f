"""The demo's traffic model: deterministic for a seed, shaped by the rhythm and the hotspots, plausible drivers."""

from __future__ import annotations

import math

import msgspec
import numpy as np
import pytest

from equilibrium_node.__main__ import BUNDLED_CONFIG
from equilibrium_node.bus.names import RegionNames
from equilibrium_node.demo.publisher import TrafficEncoder
from equilibrium_node.demo.rhythm import FIDI_RUSH, GAME_FIRST_S, ORACLE_PARK
from equilibrium_node.demo.traffic import (
    AVAILABLE,
    KINDS,
    OFFLINE,
    ON_TRIP,
    REQUEST,
    SPEED_MPS,
    Batch,
    TrafficModel,
    vehicle_mix,
)
from equilibrium_node.geo.land import Land
from equilibrium_node.messages import DemandSignal, DriverPing
from equilibrium_node.settings import load_settings

STEP_S = 0.5


@pytest.fixture(scope="module")
def land() -> Land:
    return Land(load_settings(BUNDLED_CONFIG, env={}).map.outline)


def model(land: Land, **kw) -> TrafficModel:
    args = dict(drivers=600, riders_per_min=600, seed=3, start_hour=17.5, game_every_min=15, land=land)
    args.update(kw)
    return TrafficModel(**args)


def run(m: TrafficModel, seconds: float) -> list[Batch]:
    return [m.step(STEP_S) for _ in range(round(seconds / STEP_S))]


def near(lat: np.ndarray, lng: np.ndarray, place, radius_m: float) -> np.ndarray:
    dy = (lat - place.lat) * 111_320.0
    dx = (lng - place.lng) * 111_320.0 * math.cos(math.radians(place.lat))
    return np.hypot(dx, dy) <= radius_m


def signals_of(batches: list[Batch]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(t, lat, lng, kind) of every signal."""
    t = np.concatenate([np.full(len(b.signals), b.t_s) for b in batches])
    return (t, np.concatenate([b.signals.lat for b in batches]), np.concatenate([b.signals.lng for b in batches]),
            np.concatenate([b.signals.kind for b in batches]))


def test_same_seed_same_events_other_seed_other_events(land):
    a, b, c = model(land), model(land), model(land, seed=4)
    for _ in range(120):
        x, y, z = a.step(STEP_S), b.step(STEP_S), c.step(STEP_S)
        for field in ("driver", "lat", "lng", "status", "vehicle"):
            assert np.array_equal(getattr(x.pings, field), getattr(y.pings, field))
        for field in ("rider", "lat", "lng", "kind", "vehicle"):
            assert np.array_equal(getattr(x.signals, field), getattr(y.signals, field))
    assert not np.array_equal(x.pings.lat, z.pings.lat)


def test_the_daily_rhythm_sets_how_many_riders_appear(land):
    evening = len(signals_of(run(model(land, start_hour=18.0, game_every_min=0), 60))[0])
    night = len(signals_of(run(model(land, start_hour=4.0, game_every_min=0), 60))[0])
    assert evening > 3 * night > 0


def test_the_evening_rush_gathers_riders_in_the_financial_district(land):
    def share(hour: float) -> float:
        _t, lat, lng, _kind = signals_of(run(model(land, start_hour=hour, game_every_min=0), 90))
        return float(near(lat, lng, FIDI_RUSH, 800).mean())

    assert share(17.75) > 1.5 * share(11.0)


def test_a_game_letting_out_brings_a_crowd_to_oracle_park(land):
    t, lat, lng, _kind = signals_of(run(model(land, start_hour=14.0, game_every_min=10), GAME_FIRST_S + 300))
    at_park = near(lat, lng, ORACLE_PARK, 500)
    before = at_park[t < GAME_FIRST_S].sum() / GAME_FIRST_S
    after = at_park[(t >= GAME_FIRST_S + 60) & (t < GAME_FIRST_S + 240)].sum() / 180
    assert after > 4 * max(before, 0.05)


def test_riders_open_the_app_then_quote_then_request(land):
    m = model(land)
    _t, _lat, _lng, kind = signals_of(run(m, 90))
    counts = {KINDS[k]: int((kind == k).sum()) for k in range(3)}
    assert counts["app_open"] > counts["quote"] > counts["request"] > 0
    assert m.matched > 0  # requests took drivers


def test_drivers_stay_on_land_at_city_speeds_and_ping_regularly(land):
    m = model(land, ping_interval_s=4.0)
    batches = run(m, 120)
    last: dict[int, tuple[float, float, float]] = {}
    pings_per_driver: dict[int, int] = {}
    on_land = total = 0
    for b in batches:
        p = b.pings
        on_land += int(land.contains(p.lat, p.lng).sum())
        total += len(p)
        assert set(np.unique(p.status)) <= {AVAILABLE, ON_TRIP, OFFLINE}
        for i, lat, lng, status in zip(p.driver.tolist(), p.lat.tolist(), p.lng.tolist(), p.status.tolist(),
                                       strict=True):
            if i in last:  # (a driver starting a shift appears where they start: not a move)
                t0, lat0, lng0 = last[i]
                dist = math.hypot((lat - lat0) * 111_320, (lng - lng0) * 111_320 * math.cos(math.radians(lat)))
                assert dist <= SPEED_MPS[1] * (b.t_s - t0) + 30  # + two pings' GPS noise (4 m each, 5 sigma)
            last[i] = (b.t_s, lat, lng)
            if status == OFFLINE:
                del last[i]
            pings_per_driver[i] = pings_per_driver.get(i, 0) + 1
    assert on_land >= 0.995 * total  # destinations and corners are on land; a leg may clip a cove
    online = np.flatnonzero(m.status != OFFLINE)
    counts = np.array([pings_per_driver.get(int(i), 0) for i in online])
    assert counts.min() >= 120 / 4 - 5 and np.median(counts) <= 120 / 4 + 3  # every 4 s (+ status changes)
    assert 0.5 * 600 < len(online) < 600


def test_drivers_go_on_trips_and_come_back(land):
    m = model(land)
    seen: dict[int, set[int]] = {}
    for b in run(m, 240):
        for i, status in zip(b.pings.driver.tolist(), b.pings.status.tolist(), strict=True):
            seen.setdefault(i, set()).add(status)
    c = m.counts()
    assert c["on_trip"] > 0 and c["available"] > 0
    assert m.matched > 20
    assert sum(1 for s in seen.values() if {AVAILABLE, ON_TRIP} <= s) > 20  # drivers change status


def test_vehicle_mix_favours_the_first_type():
    assert vehicle_mix(3, 0.7).tolist() == pytest.approx([0.7, 0.2, 0.1])
    assert vehicle_mix(1, 0.7).tolist() == [1.0]


def test_encoder_writes_contract_payloads_with_unique_ids(land):
    m = model(land)
    encoder = TrafficEncoder(RegionNames("sf"), ("standard", "xl", "premium"), "abc123")
    seen: set[str] = set()
    kinds = set()
    for b in run(m, 60):
        for subject, payload, msg_id in encoder.encode(b, 1_800_000_000.0):
            assert msg_id not in seen and len(msg_id) <= 64
            seen.add(msg_id)
            if subject == "eq.sf.location.driver":
                ping = msgspec.json.decode(payload, type=DriverPing)
                assert ping.event_id == msg_id and ping.driver_id.startswith("demo-d")
                assert ping.vehicle_type in ("standard", "xl", "premium") and ping.ts == 1_800_000_000.0
            else:
                assert subject == "eq.sf.location.rider"
                signal = msgspec.json.decode(payload, type=DemandSignal)
                assert signal.event_id == msg_id and signal.rider_id.startswith("demo-r")
                kinds.add(signal.kind)
    assert kinds == set(KINDS) and len(seen) > 1000
    assert KINDS.index("request") == REQUEST

"""Market helpers for tests: deterministic event streams, publishing with ids, an in-process reference consumer."""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass, field

import orjson
from nats.aio.client import Client

from equilibrium_node.bus.names import RegionNames
from equilibrium_node.intake.service import Intake
from equilibrium_node.market.state import MarketState
from equilibrium_node.metrics import Metrics
from equilibrium_node.settings import Settings

#: Hotspots in San Francisco (lat, lng) the generated events gather around.
SF_SPOTS = ((37.7936, -122.3959), (37.7849, -122.4094), (37.7599, -122.4148), (37.8080, -122.4177),
            (37.7694, -122.4862), (37.7285, -122.4763))


@dataclass
class Event:
    """One message to publish: subject, payload bytes, Nats-Msg-Id (None: no header)."""

    subject: str
    payload: bytes
    msg_id: str | None
    bad_reason: str | None = None


@dataclass
class EventGen:
    """Deterministic driver pings and rider signals around hotspots, with optional garbage."""

    region: str = "sf"
    seed: int = 1
    drivers: int = 200
    riders: int = 300
    vehicle_types: tuple[str, ...] = ("standard", "xl", "premium")
    now: float = 0.0
    rng: random.Random = field(init=False)
    counter: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.names = RegionNames(self.region)
        self.positions = {f"d{i}": self._spot() for i in range(self.drivers)}

    def _spot(self) -> tuple[float, float]:
        lat, lng = self.rng.choice(SF_SPOTS)
        return lat + self.rng.gauss(0, 0.01), lng + self.rng.gauss(0, 0.01)

    def _id(self) -> str:
        self.counter += 1
        return f"e{self.seed}-{self.counter}"

    def ping(self, driver: str | None = None, *, status: str | None = None, ts: float | None = None,
             lat: float | None = None, lng: float | None = None, vehicle_type: str | None = None) -> Event:
        """A driver ping (moving the driver a little)."""
        driver = driver or f"d{self.rng.randrange(self.drivers)}"
        plat, plng = self.positions.get(driver) or self._spot()
        plat, plng = plat + self.rng.gauss(0, 0.002), plng + self.rng.gauss(0, 0.002)
        self.positions[driver] = (plat, plng)
        status = status or self.rng.choices(("available", "on_trip", "offline"), (0.7, 0.25, 0.05))[0]
        vt = vehicle_type or self.vehicle_types[int(driver.lstrip("d") or 0) % len(self.vehicle_types)]
        eid = self._id()
        body = {"event_id": eid, "driver_id": driver, "lat": plat if lat is None else lat,
                "lng": plng if lng is None else lng, "status": status, "vehicle_type": vt,
                "ts": self.now if ts is None else ts}
        return Event(self.names.driver_subject, orjson.dumps(body), eid)

    def signal(self, rider: str | None = None, *, kind: str | None = None, ts: float | None = None) -> Event:
        """A rider demand signal."""
        rider = rider or f"r{self.rng.randrange(self.riders)}"
        lat, lng = self._spot()
        kind = kind or self.rng.choices(("app_open", "quote", "request"), (0.6, 0.3, 0.1))[0]
        eid = self._id()
        body = {"event_id": eid, "rider_id": rider, "lat": lat, "lng": lng, "kind": kind,
                "vehicle_type": self.rng.choice(self.vehicle_types), "ts": self.now if ts is None else ts}
        return Event(self.names.rider_subject, orjson.dumps(body), eid)

    def good(self) -> Event:
        """A valid event (60% pings)."""
        return self.ping() if self.rng.random() < 0.6 else self.signal()

    def bad(self, reason: str) -> Event:
        """An invalid event that must be rejected with ``reason``."""
        base = self.ping() if self.rng.random() < 0.5 else self.signal()
        body = json.loads(base.payload)
        subject = base.subject
        if reason == "not_json":
            raw = b"{not json" + str(self.counter).encode()
            return Event(subject, raw, base.msg_id, reason)
        if reason == "missing_field":
            body.pop(self.rng.choice(["lat", "ts", "vehicle_type", "event_id"]))
        elif reason == "bad_type":
            body["lat"] = "north"
        elif reason == "not_finite":
            raw = json.dumps({**body, "lng": float("nan")}).encode()  # Python writes NaN
            return Event(subject, raw, base.msg_id, reason)
        elif reason == "out_of_range":
            body["lat"] = 123.0
        elif reason == "unknown_status" and "status" in body:
            body["status"] = "asleep"
        elif reason == "unknown_status":
            reason = "unknown_kind"
            body["kind"] = "browse"
        elif reason == "unknown_kind" and "kind" in body:
            body["kind"] = "browse"
        elif reason == "unknown_kind":
            reason = "unknown_status"
            body["status"] = "asleep"
        elif reason == "unknown_vehicle_type":
            body["vehicle_type"] = "hovercraft"
        elif reason == "string_too_long":
            body["event_id"] = "x" * 65
        elif reason == "unknown_subject":
            subject = f"eq.{self.region}.location.bicycle"
        return Event(subject, orjson.dumps(body), base.msg_id, reason)


async def publish(js, events: list[Event], *, window: int = 512) -> list[bool]:
    """Publish with ``Nats-Msg-Id`` and wait for every ack; returns per event whether it was a duplicate."""
    dup: list[bool] = []
    for start in range(0, len(events), window):
        futures = []
        for ev in events[start:start + window]:
            headers = {"Nats-Msg-Id": ev.msg_id} if ev.msg_id else None
            futures.append(await js.publish_async(ev.subject, ev.payload, headers=headers))
        for fut in futures:
            ack = await asyncio.wait_for(fut, 10)
            dup.append(bool(ack.duplicate))
    return dup


async def reference_state(nc: Client, js, settings: Settings, *, until_seq: int | None = None,
                          timeout_s: float = 30.0) -> tuple[MarketState, Metrics]:
    """A never-interrupted run: a fresh state fed by the real intake from sequence 1 to the stream head."""
    names = RegionNames(settings.region)
    if until_seq is None:
        until_seq = (await js.stream_info(names.location_stream)).state.last_seq
    state = MarketState(settings.market)
    metrics = Metrics()
    intake = Intake(nc, js, names, state, settings.market, settings.cell_level, metrics,
                    vehicle_types=lambda: tuple(settings.fares))
    await intake.prepare(1)
    task = asyncio.create_task(intake.run())
    try:
        async with asyncio.timeout(timeout_s):
            while state.applied_seq < until_seq:
                await asyncio.sleep(0.02)
    finally:
        await intake.stop()
        await task
    return state, metrics

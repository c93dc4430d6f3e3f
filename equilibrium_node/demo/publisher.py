"""The demo's traffic on the wire: pings and demand signals published through NATS as the apps would send them.

The traffic never touches the node's memory. It opens its own NATS connection (the node's server and
credentials, a client name of its own), encodes every event with the contract's Structs
(:class:`~equilibrium_node.messages.DriverPing`, :class:`~equilibrium_node.messages.DemandSignal`) and
publishes it on ``eq.<region>.location.driver`` / ``.rider`` with ``Nats-Msg-Id`` = ``event_id``; the
node consumes them from the stream like any other input. Event ids carry a per-run prefix, so a demo
restarted within the stream's duplicate window is not mistaken for a replay.

Every ``STEP_S`` the model advances one step and that step's events go out in one burst followed by one
flush (the back-pressure: a slow server slows the traffic, never the node). A laptop that slept skips
ahead instead of sending the missed minutes at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Sequence

import msgspec
import numpy as np
from nats.aio.client import Client

from ..bus.connection import connect
from ..bus.names import RegionNames
from ..geo.land import Land
from ..logs import get_logger
from ..messages import MSG_ID_HEADER, DemandSignal, DriverPing
from ..node import Node
from .traffic import KINDS, STATUSES, Batch, TrafficModel

log = get_logger(__name__)

STEP_S = 0.5
MAX_LAG_S = 5.0
FLUSH_TIMEOUT_S = 5.0

_encoder = msgspec.json.Encoder()


class TrafficEncoder:
    """A step's arrays as ``(subject, payload, msg_id)`` messages of the NATS contract."""

    def __init__(self, names: RegionNames, vehicle_types: Sequence[str], run_id: str) -> None:
        self.driver_subject = names.driver_subject
        self.rider_subject = names.rider_subject
        self.vehicle_types = tuple(vehicle_types)
        self.prefix = f"demo-{run_id}-"
        self.seq = 0

    def encode(self, batch: Batch, now: float) -> list[tuple[str, bytes, str]]:
        """Encode a batch; ``now`` (epoch seconds) is every event's ``ts``, as a phone would stamp it."""
        out: list[tuple[str, bytes, str]] = []
        ts = round(now, 3)
        vts = self.vehicle_types
        p = batch.pings
        for i, lat, lng, status, vt in zip(p.driver.tolist(), np.round(p.lat, 6).tolist(),
                                           np.round(p.lng, 6).tolist(), p.status.tolist(), p.vehicle.tolist(),
                                           strict=True):
            self.seq += 1
            eid = f"{self.prefix}{self.seq}"
            ping = DriverPing(event_id=eid, driver_id=f"demo-d{i:05d}", lat=lat, lng=lng, status=STATUSES[status],
                              vehicle_type=vts[vt], ts=ts)
            out.append((self.driver_subject, _encoder.encode(ping), eid))
        s = batch.signals
        for rider, lat, lng, kind, vt in zip(s.rider.tolist(), np.round(s.lat, 6).tolist(),
                                             np.round(s.lng, 6).tolist(), s.kind.tolist(), s.vehicle.tolist(),
                                             strict=True):
            self.seq += 1
            eid = f"{self.prefix}{self.seq}"
            signal = DemandSignal(event_id=eid, rider_id=f"demo-r{rider}", lat=lat, lng=lng, kind=KINDS[kind],
                                  vehicle_type=vts[vt], ts=ts)
            out.append((self.rider_subject, _encoder.encode(signal), eid))
        return out


class DemoTraffic:
    """Runs the traffic model in real time and publishes its events (a node service of ``demo``)."""

    name = "demo_traffic"

    def __init__(self, node: Node) -> None:
        self.node = node
        s = node.settings
        self.model = TrafficModel(
            drivers=s.demo.drivers, riders_per_min=s.demo.riders_per_min, seed=s.demo.seed,
            start_hour=s.demo.start_hour, speedup=s.demo.speedup, game_every_min=s.demo.game_every_min,
            ping_interval_s=s.demo.ping_interval_s, vehicle_types=len(s.vehicle_types), land=Land(s.map.outline))
        self.encoder = TrafficEncoder(node.names, s.vehicle_types, secrets.token_hex(3))
        self.sent = {"driver": 0, "rider": 0}
        self.dropped = 0
        self.nc: Client | None = None
        self._stopped = asyncio.Event()

    async def _publish(self, batch: Batch) -> None:
        nc = self.nc
        assert nc is not None
        messages = self.encoder.encode(batch, time.time())
        if not nc.is_connected:
            self.dropped += len(messages)  # a phone would retry; the demo just moves on
            return
        try:
            for subject, payload, msg_id in messages:
                await nc.publish(subject, payload, headers={MSG_ID_HEADER: msg_id})
            await nc.flush(timeout=FLUSH_TIMEOUT_S)
        except Exception as exc:  # nats-py raises several unrelated types while reconnecting or closing
            self.dropped += len(messages)
            log.warning("demo_traffic_publish_failed", error=f"{type(exc).__name__}: {exc}")
            return
        self.sent["driver"] += len(batch.pings)
        self.sent["rider"] += len(batch.signals)

    async def run(self) -> None:
        """Connect once the node is up, then step and publish every ``STEP_S`` until stopped."""
        await self.node.ready.wait()
        s = self.node.settings
        try:
            self.nc, _js = await connect(s.nats, self.node.nats_url, name=f"eq-{s.region}-demo-traffic")
        except Exception as exc:  # the node runs on without traffic; the console says so
            log.error("demo_traffic_not_started", error=f"{type(exc).__name__}: {exc}")
            await self._stopped.wait()
            return
        log.info("demo_traffic_started", drivers=s.demo.drivers, riders_per_min=s.demo.riders_per_min,
                 seed=s.demo.seed, start_hour=s.demo.start_hour)
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while not self._stopped.is_set():
            await self._publish(self.model.step(STEP_S))
            next_at += STEP_S
            delay = next_at - loop.time()
            if delay < -MAX_LAG_S:
                log.warning("demo_traffic_behind", behind_s=round(-delay, 1))
                next_at = loop.time()
            elif delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopped.wait(), delay)

    async def stop(self) -> None:
        """Stop stepping and close the connection (first at shutdown: no more input)."""
        self._stopped.set()
        if self.nc is not None and not self.nc.is_closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.nc.drain(), 2.0)
            with contextlib.suppress(Exception):
                await self.nc.close()


__all__ = ["STEP_S", "DemoTraffic", "TrafficEncoder"]

"""The snapshot publisher against a real nats-server: funnel counts, the fence, and a leader change.

A fenced writer (the leader lease lost, as issue 8's lease will signal it through ``LeaderWriter.fence``)
publishes nothing; the next leader's publisher reads the watermark of the last stored record and counts
exactly the signals after it, so the region's totals stay exact across the change.
"""

from __future__ import annotations

import asyncio
import os
import time
from types import SimpleNamespace

import orjson
import pytest

from equilibrium_node.analytics.publisher import SnapshotPublisher
from equilibrium_node.bus.names import RegionNames
from equilibrium_node.bus.provision import provision
from equilibrium_node.errors import NotLeaderError
from equilibrium_node.geo import cells
from equilibrium_node.live_config import ConfigStore
from equilibrium_node.metrics import Metrics
from equilibrium_node.publish.writer import LeaderWriter
from equilibrium_node.quotes.demand import accept_event_id, quote_event_id
from tests.integration.test_snapshots import snapshot_records, totals
from tests.support.market import Event, publish
from tests.support.plain_market import PlainMarket

LAT, LNG = 37.7946, -122.3950  # Financial District
CELL = cells.cell_token(LAT, LNG, 13)


def signal(kind: str, event_id: str) -> Event:
    body = {"event_id": event_id, "rider_id": event_id, "lat": LAT, "lng": LNG, "kind": kind,
            "vehicle_type": "standard", "ts": time.time()}
    return Event("eq.sf.location.rider", orjson.dumps(body), event_id)


def funnel_signals(quotes: int, accepts: int, app_requests: int) -> list[Event]:
    nonces = [os.urandom(12) for _ in range(quotes)]
    return ([signal("quote", quote_event_id(n)) for n in nonces]
            + [signal("request", accept_event_id(n)) for n in nonces[:accepts]]
            + [signal("request", f"app-{os.urandom(4).hex()}") for _ in range(app_requests)])


async def until(predicate, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met")


@pytest.mark.timeout(60)
async def test_fenced_leader_writes_nothing_and_the_next_one_continues(nats_client, sf_settings):
    nc, js = nats_client
    await provision(js, sf_settings)
    store = ConfigStore("sf", 13, sf_settings)
    market = PlainMarket(clock=time.time)
    market.set(CELL, supply=3, demand=2.0)

    def publisher(writer: LeaderWriter) -> SnapshotPublisher:
        return SnapshotPublisher(js, RegionNames("sf"), market, SimpleNamespace(entries={}), lambda: store.current,
                                 writer, interval_s=0.5, cell_level=13, metrics=Metrics())

    first_writer = LeaderWriter(nc, js)
    first = publisher(first_writer)
    task = asyncio.create_task(first.run())

    async def feeding():
        return first.feed is not None

    await until(feeding)  # a region's first funnel counts from the stream head at its start
    await publish(js, funnel_signals(3, 1, 2))

    async def counted(expected):
        return totals(await snapshot_records(js), "financial_district") == expected

    await until(lambda: counted((3, 1)))
    records = await snapshot_records(js)
    assert records[-1].supply == 3 and records[-1].seq == (await js.stream_info("EQ_LOC_SF")).state.last_seq

    def lost_lease() -> None:
        raise NotLeaderError("lease lost")

    first_writer.fence = lost_lease
    stored = len(await snapshot_records(js))
    await publish(js, funnel_signals(2, 2, 1))
    await asyncio.sleep(1.5)  # three snapshot instants: the fenced publisher writes nothing
    assert len(await snapshot_records(js)) == stored
    await first.stop()
    await task

    second = publisher(LeaderWriter(nc, js))
    task = asyncio.create_task(second.run())
    await until(lambda: counted((5, 3)))
    await asyncio.sleep(1.0)
    assert await counted((5, 3))  # nothing counted twice
    await second.stop()
    await task

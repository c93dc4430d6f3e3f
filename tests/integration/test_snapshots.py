"""Zone snapshots and the quote funnel through a real node process and a real nats-server.

Drivers ping in the Financial District, riders ask for quotes over REST and accept some of them,
rider apps publish ``quote`` and ``request`` signals of their own (not funnel steps). The leader's
snapshot records in ``EQ_SNAP_SF`` must count exactly the API's quotes and accepts, carry the
market's supply and the served multipliers, and keep counting exactly once across a SIGKILL of
the node (the next start continues from the watermark of the last stored record). The analytics
API of the same node answers from those records.
"""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest
from nats.aio.client import Client

from equilibrium_node.bus.provision import provision
from equilibrium_node.geo import cells
from equilibrium_node.geo.zones import ZoneIndex
from equilibrium_node.messages import ZoneSnapshot, zone_snapshot_decoder
from tests.support.api import ADMIN, call, estimate_body
from tests.support.market import Event, publish
from tests.support.nodeproc import NodeProcess, node_env
from tests.support.ports import free_port

INTERVAL_S = 2.0
LAT, LNG = cells.center(cells.cell_token(37.7946, -122.3950, 13))  # Financial District


async def snapshot_records(js) -> list[ZoneSnapshot]:
    """Every record in EQ_SNAP_SF, in stream order."""
    info = await js.stream_info("EQ_SNAP_SF")
    out: list[ZoneSnapshot] = []
    if not info.state.messages:
        return out
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg("EQ_SNAP_SF", seq)
        out.append(zone_snapshot_decoder.decode(msg.data))
    return out


def totals(records: list[ZoneSnapshot], zone_id: str) -> tuple[int, int]:
    mine = [r for r in records if r.zone_id == zone_id]
    return sum(r.quotes for r in mine), sum(r.accepts for r in mine)


async def wait_totals(js, zone_id: str, expected: tuple[int, int], timeout: float = 30.0) -> list[ZoneSnapshot]:
    deadline = time.monotonic() + timeout
    records: list[ZoneSnapshot] = []
    while time.monotonic() < deadline:
        records = await snapshot_records(js)
        if totals(records, zone_id) == expected:
            return records
        await asyncio.sleep(0.3)
    raise AssertionError(f"funnel totals {totals(records, zone_id)} != {expected}")


async def location_last_seq(js) -> int:
    return (await js.stream_info("EQ_LOC_SF")).state.last_seq


async def quote_and_accept(base_url: str, quotes: int, accepts: int, tag: str) -> None:
    """``quotes`` estimates at the point, the first ``accepts`` of them accepted."""
    ids = []
    for i in range(quotes):
        status, body = await asyncio.to_thread(call, base_url, "POST", "/api/v1/pricing/estimate",
                                               estimate_body(LAT, LNG, user_id=f"{tag}-rider-{i}"))
        assert status == 200, body
        ids.append(body["quote_id"])  # type: ignore[index]
    for quote_id in ids[:accepts]:
        status, body = await asyncio.to_thread(call, base_url, "POST", f"/api/v1/pricing/quotes/{quote_id}/accept")
        assert status == 200, body


def app_signals(tag: str) -> list[Event]:
    """Rider-app signals of kinds quote and request with their own ids: demand, not funnel steps."""
    out = []
    for i, kind in enumerate(("request", "request", "quote", "request")):
        body = {"event_id": f"app-{tag}-{i}", "rider_id": f"app-{tag}-{i}", "lat": LAT, "lng": LNG, "kind": kind,
                "vehicle_type": "standard", "ts": time.time()}
        out.append(Event("eq.sf.location.rider", orjson.dumps(body), f"app-{tag}-{i}"))
    return out


def pings(n: int) -> list[Event]:
    out = []
    for i in range(n):
        body = {"event_id": f"p{i}-{time.time()}", "driver_id": f"d{i}", "lat": LAT, "lng": LNG,
                "status": "available", "vehicle_type": "standard", "ts": time.time()}
        out.append(Event("eq.sf.location.driver", orjson.dumps(body), body["event_id"]))
    return out


@pytest.mark.timeout(180)
async def test_snapshots_count_the_funnel_exactly_once_across_a_kill(tmp_path, nats_server, sf_settings):
    zone_id = ZoneIndex(sf_settings.zones, "sf", 13).zone_of_cell(cells.cell_token(LAT, LNG, 13))
    assert zone_id == "financial_district"
    nc = Client()
    await nc.connect(nats_server.url)
    js = nc.jetstream()
    await provision(js, sf_settings)
    port = free_port()
    env = node_env(tmp_path / "data", port, EQ_NATS_URL=nats_server.url, EQ_SNAPSHOT_INTERVAL_S=str(INTERVAL_S),
                   EQ_PRICING_TICK_S="0.5")
    node = NodeProcess(tmp_path, env=env, http_port=port).start()
    try:
        await node.wait_ready_async()
        await publish(js, pings(4) + app_signals("a"))
        await quote_and_accept(node.base_url, 6, 2, "a")
        records = await wait_totals(js, zone_id, (6, 2))
        mine = [r for r in records if r.zone_id == zone_id]
        assert max(r.supply for r in mine) == 4  # the market's drivers in the zone
        assert all(r.ts % INTERVAL_S == 0 and r.interval_s == INTERVAL_S for r in records)
        assert all(r.vehicle_type == "standard" for r in mine)
        assert all(1.0 <= r.mean_multiplier <= r.max_multiplier for r in records)
        assert [r.seq for r in records] == sorted(r.seq for r in records)  # the watermark only moves forward

        # the analytics API of the same node, from its rollup of the records
        def zones() -> tuple[int, dict]:
            return call(node.base_url, "GET", "/api/v1/analytics/zones?window=1h&order=quotes&limit=3",
                        headers=ADMIN)  # type: ignore[return-value]

        deadline = time.monotonic() + 20
        while True:
            status, body = await asyncio.to_thread(zones)
            row = next((z for z in body.get("zones", []) if z["zone_id"] == zone_id), None) if status == 200 else None
            if (row is not None and row["quotes"] == 6) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.3)
        assert status == 200 and row is not None, body
        assert (row["quotes"], row["accepts"], row["conversion"]) == (6, 2, pytest.approx(1 / 3))
        assert row["zone_name"] == "Financial District / Embarcadero" and row["snapshots"] >= 1
        status, hist = await asyncio.to_thread(call, node.base_url, "GET",
                                               f"/api/v1/analytics/zones/{zone_id}/history?step=5m", headers=ADMIN)
        assert status == 200 and hist["step"] == "5m", hist  # type: ignore[index]
        assert sum(p["quotes"] for p in hist["points"]) == 6  # type: ignore[index]

        # just after a snapshot: more quotes, stored in the location stream and counted by the leader, then
        # SIGKILL well before the next snapshot, so the counts die with the process and must be counted again
        while not 0.2 <= time.time() % INTERVAL_S <= 0.6:
            await asyncio.sleep(0.02)
        before = await location_last_seq(js)
        await quote_and_accept(node.base_url, 5, 1, "b")
        await publish(js, app_signals("b"))
        deadline = time.monotonic() + 10
        while await location_last_seq(js) < before + 6 + 4 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        node.kill()
        node = NodeProcess(tmp_path, env=env, http_port=port, name="node2").start()
        await node.wait_ready_async()
        last_ts = max(r.ts for r in await wait_totals(js, zone_id, (11, 3)))
        await asyncio.sleep(2.5 * INTERVAL_S)  # later snapshots add nothing: nothing was counted twice
        records = await snapshot_records(js)
        assert max(r.ts for r in records) > last_ts and totals(records, zone_id) == (11, 3)
    finally:
        if node.proc is not None and node.proc.poll() is None:
            assert node.terminate() == 0
        await nc.close()

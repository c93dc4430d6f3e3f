"""End to end through a real node process and a real nats-server: a demand spike published to the
location stream raises the served multiplier in KV within two ticks, more drivers bring it back down,
each change is in the audit stream; a zone change put in the config bucket applies within 2 s and a bad
one is refused; explain answers over HTTP."""

from __future__ import annotations

import asyncio
import re
import time

import msgspec
import orjson
import pytest
from nats.aio.client import Client
from nats.js.errors import KeyNotFoundError

from equilibrium_node.bus.provision import provision
from equilibrium_node.geo import cells
from equilibrium_node.messages import audit_record_decoder, surge_update_decoder
from equilibrium_node.settings import ZoneConfig
from tests.support.market import Event, publish
from tests.support.nodeproc import NodeProcess, node_env
from tests.support.ports import free_port

TICK_S = 0.5
LAT, LNG = cells.center(cells.cell_token(37.7946, -122.3950, 13))  # Financial District: linear 0.6, max 3.5
CELL = cells.cell_token(LAT, LNG, 13)
KEY = f"{CELL}.standard"


def ping(i: int, driver: str, status: str = "available") -> Event:
    body = {"event_id": f"p{i}", "driver_id": driver, "lat": LAT, "lng": LNG, "status": status,
            "vehicle_type": "standard", "ts": time.time()}
    return Event("eq.sf.location.driver", orjson.dumps(body), f"p{i}")


def request(i: int, rider: str) -> Event:
    body = {"event_id": f"r{i}", "rider_id": rider, "lat": LAT, "lng": LNG, "kind": "request",
            "vehicle_type": "standard", "ts": time.time()}
    return Event("eq.sf.location.rider", orjson.dumps(body), f"r{i}")


@pytest.fixture
async def node_and_js(tmp_path, nats_server, sf_settings):
    nc = Client()
    await nc.connect(nats_server.url)
    js = nc.jetstream()
    await provision(js, sf_settings)
    port = free_port()
    # rules are seeded into the config bucket from these on first start: instant moves, no rush hours,
    # so that the test sees the market's effect alone
    env = node_env(tmp_path / "data", port, EQ_NATS_URL=nats_server.url, EQ_PRICING_TICK_S=str(TICK_S),
                   EQ_RULES_RISE_CONFIRM_S="0", EQ_RULES_FALL_CONFIRM_S="0", EQ_RULES_MAX_CHANGE_PER_MIN="6000",
                   EQ_RULES_TIME_OF_DAY="[]")
    node = NodeProcess(tmp_path, env=env, http_port=port).start()
    try:
        await node.wait_ready_async()
        yield node, js
    finally:
        assert node.terminate() == 0  # SIGTERM: the engine stops (rollup saved) and the node exits cleanly
        await nc.close()


def ticks(node: NodeProcess) -> float:
    _status, text = node.get("/metrics")
    match = re.search(r"^eq_ticks_total (\S+)$", text, re.M)  # type: ignore[arg-type]
    assert match, text
    return float(match.group(1))


async def served(kv) -> float:
    try:
        entry = await kv.get(KEY)
    except KeyNotFoundError:
        return 1.0
    return surge_update_decoder.decode(entry.value).multiplier if entry.value else 1.0


async def until_served(kv, predicate, timeout: float) -> float:
    async with asyncio.timeout(timeout):
        while not predicate(value := await served(kv)):
            await asyncio.sleep(0.05)
    return value


async def test_demand_spike_rises_within_two_ticks_and_falls_back_with_audit(node_and_js):
    node, js = node_and_js
    kv = await js.key_value("eq_sf_surge")
    await asyncio.sleep(2 * TICK_S)  # the engine is ticking (state loaded)
    assert await served(kv) == 1.0
    before = ticks(node)
    # 2 drivers and 10 ride requests (weight 3): ratio 15, far above the Financial District's cap
    await publish(js, [ping(1, "d1"), ping(2, "d2"), *(request(i, f"rider{i}") for i in range(10))])
    assert await until_served(kv, lambda v: v > 1.0, timeout=8 * TICK_S) == 3.5
    assert ticks(node) - before <= 3, "not within two ticks of the events (one more may have been running)"
    update = surge_update_decoder.decode((await kv.get(KEY)).value)
    assert (update.zone_id, update.algorithm, update.supply, update.demand) == ("financial_district", "linear",
                                                                                 2.0, 30.0)
    assert update.demand_level == "very_high"

    # 40 more drivers: demand 30 for 42 drivers, the price falls back to 1.0
    await publish(js, [ping(100 + i, f"d{100 + i}") for i in range(40)])
    await until_served(kv, lambda v: v == 1.0, timeout=8 * TICK_S)

    sub = await js.subscribe("eq.sf.audit.pricing", ordered_consumer=True)
    records = []
    async with asyncio.timeout(5):
        while len(records) < 2:
            record = audit_record_decoder.decode((await sub.next_msg(timeout=5)).data)
            if record.cell == CELL and record.vehicle_type == "standard":
                records.append(record)
    await sub.unsubscribe()
    assert [(r.old_multiplier, r.new_multiplier) for r in records] == [(1.0, 3.5), (3.5, 1.0)]
    assert records[0].trigger_reason == "rise:market" and records[0].supply == 2 and records[0].demand == 30
    assert records[1].trigger_reason == "fall:market" and records[1].supply == 42
    assert records[0].algorithm == "linear" and records[0].zone_id == "financial_district"

    status, body = node.get(f"/api/v1/pricing/explain?lat={LAT}&lng={LNG}&vehicle_type=standard")
    assert status == 200 and body["cell"] == CELL and body["raw"]["supply"] == 42
    assert body["served"]["multiplier"] == 1.0 and len(body["guardrails"]) == 10


async def test_zone_change_in_kv_applies_within_two_seconds_and_bad_values_are_refused(node_and_js):
    node, js = node_and_js
    kv = await js.key_value("eq_sf_surge")
    config = await js.key_value("eq_sf_config")
    await publish(js, [ping(1, "d1"), *(request(i, f"rider{i}") for i in range(10))])
    await until_served(kv, lambda v: v == 3.5, timeout=10)
    zone = msgspec.json.decode((await config.get("zone.financial_district")).value, type=ZoneConfig)
    started = time.monotonic()
    await config.put("zone.financial_district", msgspec.json.encode(msgspec.structs.replace(zone, max_multiplier=2.0)))
    await until_served(kv, lambda v: v == 2.0, timeout=2.0)
    assert time.monotonic() - started < 2.0
    # an unknown algorithm is refused (logged with its reason); the zone keeps pricing at 2.0
    await config.put("zone.financial_district", msgspec.json.encode(
        msgspec.structs.replace(zone, algorithm="rocket", max_multiplier=1.2)))
    deadline = time.monotonic() + 5
    while "config_rejected" not in node.log() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert "unknown pricing algorithm 'rocket'" in node.log()
    await asyncio.sleep(3 * TICK_S)
    assert await served(kv) == 2.0

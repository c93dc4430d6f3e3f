"""The market inspection API of a real node over HTTP: auth, bounds and token errors, quiet cells, counts, metrics."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest
from nats.aio.client import Client

from equilibrium_node.bus.provision import provision
from equilibrium_node.geo import cells
from tests.support.market import Event, publish
from tests.support.nodeproc import TEST_ADMIN_TOKEN, NodeProcess, node_env
from tests.support.ports import free_port

AUTH = {"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}
SF = "37.6,-122.6,37.9,-122.3"


@pytest.fixture
async def node_and_js(tmp_path, nats_server, sf_settings):
    nc = Client()
    await nc.connect(nats_server.url)
    js = nc.jetstream()
    await provision(js, sf_settings)
    port = free_port()
    node = NodeProcess(tmp_path, env=node_env(tmp_path / "data", port, EQ_NATS_URL=nats_server.url),
                       http_port=port).start()
    try:
        await node.wait_ready_async()
        yield node, js
    finally:
        node.kill()
        await nc.close()


def ping(i: int, driver: str, lat: float, lng: float, status: str = "available", vt: str = "standard") -> Event:
    body = {"event_id": f"p{i}", "driver_id": driver, "lat": lat, "lng": lng, "status": status,
            "vehicle_type": vt, "ts": time.time()}
    return Event("eq.sf.location.driver", orjson.dumps(body), f"p{i}")


def signal(i: int, rider: str, lat: float, lng: float, kind: str, vt: str = "standard") -> Event:
    body = {"event_id": f"s{i}", "rider_id": rider, "lat": lat, "lng": lng, "kind": kind, "vehicle_type": vt,
            "ts": time.time()}
    return Event("eq.sf.location.rider", orjson.dumps(body), f"s{i}")


async def until_applied(node: NodeProcess, seq: int) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        status, body = node.get(f"/api/v1/market/cells?bounds={SF}", headers=AUTH)
        if status == 200 and body["applied_seq"] >= seq:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("node did not apply the events")


async def test_auth_and_input_errors(node_and_js):
    node, _ = node_and_js
    status, body = node.get(f"/api/v1/market/cells?bounds={SF}")
    assert status == 401 and body["error"]["code"] == "unauthorized"
    status, body = node.get(f"/api/v1/market/cells?bounds={SF}", headers={"Authorization": "Bearer nope"})
    assert status == 403
    for bad in ("", "1,2,3", "a,b,c,d", "37.9,-122.3,37.6,-122.6", "91,0,92,1", "nan,0,1,1"):
        status, body = node.get(f"/api/v1/market/cells?bounds={bad}", headers=AUTH)
        assert status == 400, bad
        assert body["error"]["field"] == "bounds" and body["error"]["message"]
    for bad in ("zzz", "8085809c1", "80858", "X", "8085809C"):  # not hex, wrong level, upper case
        status, body = node.get(f"/api/v1/market/cells/{bad}", headers=AUTH)
        assert status == 400 and body["error"]["field"] == "cell", bad
    status, body = node.get(f"/api/v1/market/cells?bounds={SF}&at={time.time() + 3600}", headers=AUTH)
    assert status == 400 and body["error"]["field"] == "at"


async def test_quiet_cell_is_all_zeros(node_and_js):
    node, _ = node_and_js
    token = cells.cell_token(37.7749, -122.4194, 13)
    status, body = node.get(f"/api/v1/market/cells/{token}", headers=AUTH)
    assert status == 200
    assert body["cell"] == token and body["applied_seq"] == 0
    assert body["supply"] == {"standard": 0, "xl": 0, "premium": 0}
    assert body["demand_5m"] == {"standard": 0.0, "xl": 0.0, "premium": 0.0}
    status, body = node.get(f"/api/v1/market/cells?bounds={SF}", headers=AUTH)
    assert status == 200 and body == {"cells": [], "applied_seq": 0}


async def test_counts_bounds_metrics_and_openapi(node_and_js, sf_settings):
    node, js = node_and_js
    here, there = (37.7749, -122.4194), (37.8080, -122.4177)
    events = [ping(1, "d1", *here), ping(2, "d2", *here, status="on_trip"), ping(3, "d3", *here, vt="xl"),
              ping(4, "d4", *there), signal(5, "r1", *here, "app_open"), signal(6, "r1", *here, "request"),
              signal(7, "r2", *here, "quote"), Event("eq.sf.location.driver", b"garbage", "g8")]
    await publish(js, events)
    await until_applied(node, len(events))
    token = cells.cell_token(*here, 13)
    status, body = node.get(f"/api/v1/market/cells/{token}", headers=AUTH)
    assert status == 200
    assert body["supply"] == {"standard": 1, "xl": 1, "premium": 0}
    assert body["on_trip"]["standard"] == 1
    m = sf_settings.market
    assert body["demand_1m"]["standard"] == m.weight_request + m.weight_quote
    assert body["zone_id"]
    status, body = node.get(f"/api/v1/market/cells?bounds={SF}", headers=AUTH)
    assert [c["cell"] for c in body["cells"]] == sorted([token, cells.cell_token(*there, 13)])
    assert body["applied_seq"] == len(events)
    status, body = node.get("/api/v1/market/cells?bounds=37.80,-122.43,37.82,-122.40", headers=AUTH)
    assert [c["cell"] for c in body["cells"]] == [cells.cell_token(*there, 13)]

    _, text = node.get("/metrics")
    for line in ('eq_events_ingested_total{kind="driver"} 4', 'eq_events_ingested_total{kind="rider"} 3',
                 'eq_events_rejected_total{reason="not_json"} 1', f"eq_stream_applied_seq {len(events)}",
                 "eq_stream_pending 0", "eq_cells_active 2"):
        assert line in text, line
    assert "eq_checkpoint_seq" in text
    status, doc = node.get("/api/v1/openapi.json")
    assert {"/api/v1/market/cells", "/api/v1/market/cells/{cell}"} <= set(doc["paths"])
    status, driver_info = node.get("/readyz")
    assert driver_info["state_loaded"] is True


async def test_more_than_5000_active_cells_is_refused(node_and_js):
    node, js = node_and_js
    events = []
    for i in range(5001):  # one driver per cell on a coarse grid (cells ~1 km apart)
        events.append(ping(i, f"g{i}", 37.0 + (i // 100) * 0.02, -123.0 + (i % 100) * 0.02))
    await publish(js, events)
    await until_applied(node, len(events))
    status, body = node.get("/api/v1/market/cells?bounds=36.9,-123.1,38.2,-120.9", headers=AUTH)
    assert status == 400 and body["error"]["field"] == "bounds" and "5001" in body["error"]["message"]
    status, body = node.get("/api/v1/market/cells?bounds=36.98,-123.02,37.09,-121.0", headers=AUTH)
    assert status == 200 and len(body["cells"]) == 500  # the first five rows of the grid

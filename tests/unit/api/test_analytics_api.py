"""The analytics endpoints over real HTTP (aiohttp test server): auth, validation, readiness, answers."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer

from equilibrium_node.analytics.rollup import ZoneRollup
from equilibrium_node.analytics.tail import RollupTail
from equilibrium_node.api.analytics import AnalyticsApi
from equilibrium_node.api.app import build_app
from equilibrium_node.api.auth import AdminAuth
from equilibrium_node.api.static import StaticApi
from equilibrium_node.bus.names import RegionNames
from equilibrium_node.live_config import ConfigStore
from equilibrium_node.metrics import Metrics
from tests.unit.analytics.test_rollup import DAY, NOW, audit, snap

ADMIN = {"Authorization": "Bearer t"}


@pytest.fixture
async def client(sf_settings):
    rollup = ZoneRollup(90 * DAY, 2 * DAY, clock=lambda: NOW)
    for i in range(48):
        rollup.add_snapshot(snap("soma", NOW - i * 1800, mean=2.0, quotes=10, accepts=2))
        rollup.add_snapshot(snap("mission", NOW - i * 1800, mean=1.2, quotes=10, accepts=8, vt="xl"))
    rollup.add_audit(audit("soma", NOW - 3600, 1.0, 2.0))
    metrics = Metrics()
    tail = RollupTail(None, RegionNames("sf"), rollup, metrics)  # type: ignore[arg-type]  # fed directly here
    store = ConfigStore("sf", 13, sf_settings)
    app = build_app([AnalyticsApi(tail, AdminAuth("t"), lambda: store.current, clock=lambda: NOW), StaticApi()],
                     metrics)
    async with TestClient(TestServer(app)) as c:
        c.tail = tail  # type: ignore[attr-defined]
        yield c


async def get(client, path: str, headers=ADMIN) -> tuple[int, dict]:
    resp = await client.get(path, headers=headers)
    return resp.status, await resp.json()


async def test_auth_and_readiness(client):
    assert (await get(client, "/api/v1/analytics/zones", headers={}))[0] == 401
    assert (await get(client, "/api/v1/analytics/zones", headers={"Authorization": "Bearer x"}))[0] == 403
    status, body = await get(client, "/api/v1/analytics/zones")
    assert status == 503 and body["error"]["code"] == "not_ready" and "snapshot 0/0" in body["error"]["message"]
    client.tail.loaded.set()
    status, body = await get(client, "/api/v1/analytics/zones")
    assert status == 200 and body["window"] == "30d" and body["order"] == "inefficiency"


@pytest.mark.parametrize(("query", "field", "code"), [
    ("window=abc", "window", "validation_error"), ("window=30", "window", "validation_error"),
    ("window=", "window", "validation_error"), ("window=30m", "window", "out_of_range"),
    ("window=400d", "window", "out_of_range"), ("order=best", "order", "validation_error"),
    ("limit=0", "limit", "out_of_range"), ("limit=x", "limit", "validation_error"),
    ("limit=1001", "limit", "out_of_range"), ("vehicle_type=bike", "vehicle_type", "unknown_vehicle_type"),
])
async def test_zone_query_validation(client, query, field, code):
    client.tail.loaded.set()
    status, body = await get(client, f"/api/v1/analytics/zones?{query}")
    assert status == 400 and body["error"]["field"] == field and body["error"]["code"] == code, body


async def test_zone_table(client):
    client.tail.loaded.set()
    status, body = await get(client, "/api/v1/analytics/zones?window=12h&order=inefficiency&limit=1")
    assert status == 200 and body["total_zones"] == 2 and len(body["zones"]) == 1
    top = body["zones"][0]
    assert (top["zone_id"], top["zone_name"], top["snapshots"], top["quotes"], top["accepts"]) == (
        "soma", "SoMa", 26, 260, 52)  # from the start of the hour 12 h back to now (:30): 26 half-hourly records
    assert top["conversion"] == 0.2 and top["inefficiency"] == pytest.approx(0.8) and top["surge_events"] == 1
    assert body["from"].endswith(":00:00Z") and body["vehicle_types"] == ["standard", "xl", "premium"]
    status, body = await get(client, "/api/v1/analytics/zones?window=1d&vehicle_type=xl&order=conversion")
    assert [z["zone_id"] for z in body["zones"]] == ["mission"]


async def test_history(client):
    client.tail.loaded.set()
    status, body = await get(client, "/api/v1/analytics/zones/soma/history")
    assert status == 200 and body["step"] == "5m" and len(body["points"]) == 289  # 24 h in 5-minute steps
    assert sum(p["snapshots"] for p in body["points"]) == 48
    status, body = await get(client, f"/api/v1/analytics/zones/soma/history?from={NOW - 30 * DAY}&to={NOW}&step=1d")
    assert status == 200 and len(body["points"]) == 31 and sum(p["quotes"] for p in body["points"]) == 480
    status, body = await get(client, "/api/v1/analytics/zones/castro_noe/history?step=1h")
    assert status == 200 and all(p["snapshots"] == 0 for p in body["points"])  # configured, no data yet
    for query, field in (("step=7m", "step"), (f"from={NOW - 10 * DAY}&step=15m", "step"),
                         (f"from={NOW - 300 * DAY}&step=1h", "step"), (f"from={NOW}&to={NOW - 60}", "from"),
                         ("from=yesterday", "from"), ("to=", "to"), ("vehicle_type=bike", "vehicle_type")):
        status, body = await get(client, f"/api/v1/analytics/zones/soma/history?{query}")
        assert status == 400 and body["error"]["field"] == field, (query, body)
    status, body = await get(client, "/api/v1/analytics/zones/atlantis/history")
    assert status == 404 and body["error"]["code"] == "unknown_zone"
    status, body = await get(client, "/api/v1/analytics/zones/Bad-Zone/history")
    assert status == 400 and body["error"]["field"] == "zone_id"


async def test_the_page_is_served_and_self_contained(client):
    resp = await client.get("/analytics")
    text = await resp.text()
    assert resp.status == 200 and resp.content_type == "text/html"
    assert "/api/v1/analytics/zones" in text and "Authorization" in text and "<svg" in text
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "") and "https://" not in text  # no internet


def test_openapi_documents_both_endpoints(sf_settings):
    from equilibrium_node.api.openapi import build_document

    store = ConfigStore("sf", 13, sf_settings)
    tail = RollupTail(None, RegionNames("sf"), ZoneRollup(DAY, 3600), Metrics())  # type: ignore[arg-type]
    part = AnalyticsApi(tail, AdminAuth("t"), lambda: store.current)
    doc = build_document(part.endpoints(), title="t", description="d")
    zones = doc["paths"]["/api/v1/analytics/zones"]["get"]
    history = doc["paths"]["/api/v1/analytics/zones/{zone_id}/history"]["get"]
    assert set(zones["responses"]) == {"200", "400", "401", "403", "500", "503"}
    assert set(history["responses"]) == {"200", "400", "401", "403", "404", "500", "503"}
    assert zones["security"] == history["security"] == [{"adminBearer": []}]
    assert {p["name"] for p in zones["parameters"]} == {"window", "order", "limit", "vehicle_type"}
    assert {p["name"] for p in history["parameters"]} == {"zone_id", "from", "to", "step", "vehicle_type"}
    schemas = doc["components"]["schemas"]
    assert {"inefficiency", "conversion", "surge_events", "decrease_events", "avg_multiplier"} <= set(
        schemas["ZoneFigures"]["properties"])
    assert "from" in schemas["ZoneTable"]["properties"] and "points" in schemas["ZoneHistory"]["properties"]

"""Rider quotes against a real node process and a real nats-server: estimate, status, accept, validation."""

from __future__ import annotations

import time

import msgspec
import pytest

from equilibrium_node.messages import demand_signal_decoder
from equilibrium_node.quotes.token import QuoteClaims, QuoteSigner
from tests.support.api import call, estimate_body, put_surge, served_cell, surge_update, wait_for
from tests.support.nodeproc import TEST_SECRET, NodeProcess, node_env
from tests.support.ports import free_port

PICKUP = (37.7880, -122.4000)  # Financial District


def _node(tmp_path, nats_url: str, name: str = "node", **extra: str) -> NodeProcess:
    port = free_port()
    env = node_env(tmp_path / f"{name}-data", port, EQ_NATS_URL=nats_url, **extra)
    return NodeProcess(tmp_path, env=env, http_port=port, name=name)


async def _rider_signals(js) -> list:
    sub = await js.pull_subscribe("eq.sf.location.rider", stream="EQ_LOC_SF")
    try:
        msgs = await sub.fetch(50, timeout=1.0)
    except TimeoutError:
        return []
    finally:
        await sub.unsubscribe()
    return [(m.headers or {}, demand_signal_decoder.decode(m.data)) for m in msgs]


async def test_estimate_status_accept_and_demand_signals(tmp_path, nats_server, nats_client):
    _nc, js = nats_client
    # short freshness windows: the leader's ticks (every second) are what keeps the prices fresh
    with _node(tmp_path, nats_server.url, EQ_PRICING_STALE_AFTER_S="3", EQ_PRICING_FALLBACK_AFTER_S="20") as node:
        node.wait_ready()
        base = node.base_url
        injected = surge_update(*PICKUP, 1.3, zone_id="financial_district", level="high")
        await put_surge(js, "sf", injected)
        # wait through the heatmap (no demand signal yet, so the leader has no reason to re-price the cell), and
        # past stale_after_s: only the leader's ticks can keep the prices fresh by then
        wait_for(lambda: (c := served_cell(base, injected.cell)) and c["surge_multiplier"] == 1.3, what="surge 1.3")
        time.sleep(3.5)
        cell = served_cell(base, injected.cell)
        assert cell and cell["surge_multiplier"] == 1.3 and cell["degraded"] is False
        status, quote = call(base, "POST", "/api/v1/pricing/estimate", estimate_body(*PICKUP, user_id="r1"))
        assert status == 200 and quote["surge_multiplier"] == 1.3, quote
        assert quote["final_fare"] == round(quote["base_fare"] * 1.3 + 1e-9, 2)
        assert quote["currency"] == "USD" and quote["vehicle_type"] == "standard" and quote["degraded"] is False
        assert quote["zone_info"] == {"zone_id": "financial_district", "zone_name": "Financial District / Embarcadero",
                                      "current_demand_level": "high"}
        assert 2.5 < quote["estimated_distance"] < 5 and quote["estimated_duration"] > 0
        valid_until = time.mktime(time.strptime(quote["quote_valid_until"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
        assert 110 < valid_until - time.time() < 125

        qid = quote["quote_id"]
        status, body = call(base, "GET", f"/api/v1/pricing/quotes/{qid}")
        assert status == 200 and body["valid"] is True and body["reason"] is None
        assert body["quote"]["final_fare"] == quote["final_fare"] and body["quote"]["user_id"] == "r1"

        # tampered: same shape, a byte of the terms changed
        prefix, payload, sig = qid.split(".")
        forged = f"{prefix}.{payload[:-2]}{'A' if payload[-2] != 'A' else 'B'}{payload[-1]}.{sig}"
        status, body = call(base, "GET", f"/api/v1/pricing/quotes/{forged}")
        assert status == 200 and body == {"valid": False, "reason": "tampered", "quote": None, "accepted_at": None}
        status, err = call(base, "POST", f"/api/v1/pricing/quotes/{forged}/accept")
        assert status == 400 and err["error"]["code"] == "quote_tampered"
        status, body = call(base, "GET", "/api/v1/pricing/quotes/not-a-quote")
        assert status == 200 and body["reason"] == "unknown"
        status, err = call(base, "POST", "/api/v1/pricing/quotes/not-a-quote/accept")
        assert status == 404 and err["error"]["code"] == "quote_unknown"

        # expired: a quote this region's secret signed, expiry in the past (as any node of the region would)
        now_ms = int(time.time() * 1000)
        old = QuoteClaims(region="sf", vehicle_type="standard", pickup_cell="80858064", dropoff_cell="80858064",
                          zone_id="soma", base_cents=900, final_cents=900, multiplier=1.0, currency="USD",
                          distance_km=1.0, duration_min=3.0, issued_ms=now_ms - 200_000, expires_ms=now_ms - 80_000,
                          user_id="r2", degraded=False, nonce=b"x" * 12)
        expired_id, _ = QuoteSigner(TEST_SECRET, "sf").sign(old)
        status, body = call(base, "GET", f"/api/v1/pricing/quotes/{expired_id}")
        assert status == 200 and body["valid"] is False and body["reason"] == "expired"
        status, err = call(base, "POST", f"/api/v1/pricing/quotes/{expired_id}/accept")
        assert status == 410 and err["error"]["code"] == "quote_expired"

        # accept once, then used
        status, accepted = call(base, "POST", f"/api/v1/pricing/quotes/{qid}/accept")
        assert status == 200 and accepted["accepted"] is True and accepted["quote"]["final_fare"] == quote["final_fare"]
        status, err = call(base, "POST", f"/api/v1/pricing/quotes/{qid}/accept")
        assert status == 409 and err["error"]["code"] == "quote_used" and err["error"]["field"] == "quote_id"
        status, body = call(base, "GET", f"/api/v1/pricing/quotes/{qid}")
        assert body["valid"] is False and body["reason"] == "used" and body["accepted_at"]

        # the quote and the accept reached the location stream as demand signals, deduplicated by event id
        got = []
        for _ in range(40):
            got = await _rider_signals(js)
            if {s.kind for _, s in got} >= {"quote", "request"}:
                break
            time.sleep(0.1)
        kinds = [(h.get("Nats-Msg-Id"), s) for h, s in got if s.rider_id == "r1"]
        request = [s for mid, s in kinds if s.kind == "request"]
        assert len(request) == 1 and request[0].vehicle_type == "standard"
        assert all(mid == s.event_id for mid, s in kinds)
        assert any(s.kind == "quote" and abs(s.lat - PICKUP[0]) < 1e-9 for _, s in kinds)

        _, text = node.get("/metrics")
        assert 'eq_quotes_total{result="accepted"} 1' in text and 'eq_quotes_total{result="used"} 1' in text
        assert 'eq_quotes_total{result="expired"} 1' in text and 'eq_quotes_total{result="tampered"} 1' in text


BAD_BODIES = [
    (b"{not json", 400, "bad_json", None),
    (b"", 400, "bad_json", None),
    (b"[]", 400, "validation_error", None),
    (msgspec.json.encode({**estimate_body(), "vehicle_type": 5}), 400, "validation_error", "vehicle_type"),
    (msgspec.json.encode({**estimate_body(), "pickup_location": {"latitude": "north", "longitude": 1}}), 400,
     "validation_error", "pickup_location.latitude"),
    (msgspec.json.encode(estimate_body(lat=91.0)), 400, "validation_error", "pickup_location.latitude"),
    (msgspec.json.encode(estimate_body(lng=-180.5)), 400, "validation_error", "pickup_location.longitude"),
    (msgspec.json.encode({**estimate_body(), "dropoff_location": {"latitude": 1e999, "longitude": 0}}), 400,
     "validation_error", "dropoff_location.latitude"),
    (msgspec.json.encode(estimate_body(vehicle_type="rocket")), 400, "unknown_vehicle_type", "vehicle_type"),
    (msgspec.json.encode({k: v for k, v in estimate_body().items() if k != "user_id"}), 400, "validation_error", None),
    (msgspec.json.encode({**estimate_body(), "extra": 1}), 400, "validation_error", "extra"),
    (b'{"pad": "' + b"x" * (70 * 1024) + b'"}', 413, "body_too_large", None),
]


def test_validation_errors_are_4xx_with_the_error_body(tmp_path):
    with NodeProcess(tmp_path) as node:
        node.wait_ready()
        for raw, want_status, want_code, want_field in BAD_BODIES:
            status, body = call(node.base_url, "POST", "/api/v1/pricing/estimate", raw=raw)
            assert status == want_status, (raw[:80], body)
            assert body["error"]["code"] == want_code, (raw[:80], body)
            if want_field:
                assert body["error"]["field"] == want_field, (raw[:80], body)
        for query, field in [("bounds=1,2,3&zoom=10", "bounds"), ("bounds=37.8,-122.4,37.7,-122.5&zoom=10", "bounds"),
                             ("bounds=-80,-170,80,170&zoom=12", "bounds"), ("bounds=37.7,-122.5,37.8,-122.4", "zoom"),
                             ("bounds=37.7,-122.5,37.8,-122.4&zoom=99", "zoom"),
                             ("bounds=37.7,-122.5,37.8,-122.4&zoom=12&vehicle_type=rocket", "vehicle_type"),
                             ("bounds=37.7,-122.5,95,-122.4&zoom=12", "bounds")]:
            status, body = call(node.base_url, "GET", f"/api/v1/pricing/heatmap?{query}")
            assert status == 400 and body["error"]["field"] == field, (query, body)
        status, body = call(node.base_url, "GET", "/api/v1/pricing/quotes/" + "%C3%A9" * 10)
        assert status == 400 and body["error"]["field"] == "quote_id"
        _, text = node.get("/metrics")
        assert 'eq_quotes_total{result="rejected"} 12' in text
        assert 'eq_http_responses_total{route="/api/v1/pricing/estimate",status="5xx"}' not in text


@pytest.mark.parametrize("zoom", [12, 9])
async def test_heatmap_cells_colours_and_aggregation(tmp_path, nats_server, nats_client, zoom):
    _nc, js = nats_client
    with _node(tmp_path, nats_server.url) as node:
        node.wait_ready()
        hot = surge_update(37.7880, -122.4000, 2.1, zone_id="financial_district", supply=1, demand=6,
                           level="very_high")
        warm = surge_update(37.7800, -122.4050, 1.3, zone_id="soma", supply=3, demand=4, level="high")
        calm = surge_update(37.7790, -122.4150, 1.0, zone_id="soma", supply=5, demand=1, level="low")
        xl = surge_update(37.7880, -122.4000, 3.0, zone_id="financial_district", vehicle_type="xl")
        for u in (hot, warm, calm, xl):
            await put_surge(js, "sf", u)
        q = f"/api/v1/pricing/heatmap?bounds=37.70,-122.52,37.83,-122.35&zoom={zoom}"

        def loaded():
            status, body = call(node.base_url, "GET", q)
            return body if status == 200 and len(body["cells"]) >= 1 and body["last_updated"] else None

        body = wait_for(loaded, what="heatmap cells")
        by_cell = {c["cell"]: c for c in body["cells"]}
        if zoom == 12:  # pricing level: one cell per update, colour on the scale
            assert body["level"] == 13 and set(by_cell) == {hot.cell, warm.cell, calm.cell}
            assert by_cell[hot.cell]["color"] == "#d73027" and by_cell[warm.cell]["color"] == "#fee08b"
            assert by_cell[calm.cell]["color"] == "#1a9850"
            assert len(by_cell[hot.cell]["polygon"]) == 4
        else:  # zoomed out: parents at level 10 take the max multiplier and the sums of their children
            assert body["level"] == 10
            assert all(len(c) <= 8 for c in by_cell)  # level-10 tokens are shorter than level-13 ones
            top = max(body["cells"], key=lambda c: c["surge_multiplier"])
            assert top["surge_multiplier"] == 2.1 and top["demand_level"] == "very_high"
            assert sum(c["supply_count"] for c in body["cells"]) == 9
        zones = {z["zone_id"]: z for z in body["zones"]}
        assert body["total_zones"] == len(zones) and {"financial_district", "soma"} <= set(zones)
        assert zones["financial_district"]["surge_multiplier"] == 2.1
        assert zones["soma"]["surge_multiplier"] == 1.3 and zones["soma"]["supply_count"] == 8
        assert zones["soma"]["demand_level"] == "high" and zones["soma"]["color"] == "#fee08b"
        assert 37.7 < zones["soma"]["center"]["latitude"] < 37.8
        status, xl_body = call(node.base_url, "GET", q + "&vehicle_type=xl")
        assert status == 200 and [c["surge_multiplier"] for c in xl_body["cells"]] == [3.0]

"""Two node processes of one region on one nats-server: exactly-once accept and live admin writes."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import msgspec

from tests.support.api import ADMIN, call, estimate_body, wait_for
from tests.support.nodeproc import NodeProcess, node_env
from tests.support.ports import free_port

RACERS = 12
QUOTES = 6


def _node(tmp_path, nats_url: str, name: str, **extra: str) -> NodeProcess:
    port = free_port()
    env = node_env(tmp_path / f"{name}-data", port, EQ_NATS_URL=nats_url, EQ_NODE_ID=name, **extra)
    return NodeProcess(tmp_path, env=env, http_port=port, name=name)


def test_accept_is_exactly_once_across_nodes(tmp_path, nats_server):
    with _node(tmp_path, nats_server.url, "a") as a, _node(tmp_path, nats_server.url, "b") as b:
        a.wait_ready()
        b.wait_ready()
        with ThreadPoolExecutor(RACERS) as pool:
            for i in range(QUOTES):
                status, quote = call((a, b)[i % 2].base_url, "POST", "/api/v1/pricing/estimate",
                                     estimate_body(user_id=f"racer-{i}"))
                assert status == 200
                qid = quote["quote_id"]
                # the other node verifies the signature with no lookup
                status, body = call((b, a)[i % 2].base_url, "GET", f"/api/v1/pricing/quotes/{qid}")
                assert status == 200 and body["valid"] is True
                # many clients accept the same quote on both nodes at once
                targets = [(a, b)[k % 2].base_url for k in range(RACERS)]
                results = list(pool.map(lambda url, q=qid: call(url, "POST", f"/api/v1/pricing/quotes/{q}/accept"),
                                        targets))
                statuses = sorted(s for s, _ in results)
                assert statuses == [200] + [409] * (RACERS - 1), results
                winner = next(body for s, body in results if s == 200)
                assert winner["node_id"] in ("a", "b")
                assert all(body["error"]["code"] == "quote_used" for s, body in results if s == 409)
                for node in (a, b):
                    _, body = call(node.base_url, "GET", f"/api/v1/pricing/quotes/{qid}")
                    assert body["valid"] is False and body["reason"] == "used"
        accepted = 0
        for node in (a, b):
            _, text = node.get("/metrics")
            line = next(x for x in text.splitlines() if x.startswith('eq_quotes_total{result="accepted"}'))
            accepted += int(float(line.split()[-1]))
        assert accepted == QUOTES


def test_admin_auth_validation_and_live_propagation(tmp_path, nats_server):
    with _node(tmp_path, nats_server.url, "a") as a, _node(tmp_path, nats_server.url, "b") as b:
        a.wait_ready()
        b.wait_ready()
        # auth: 401 without a token, 403 with a wrong one, on every admin endpoint
        for method, path in [("GET", "/api/v1/admin/rules"), ("PUT", "/api/v1/admin/rules"),
                             ("GET", "/api/v1/admin/zones/soma"), ("PUT", "/api/v1/admin/zones/soma"),
                             ("POST", "/api/v1/admin/signals"), ("GET", "/api/v1/admin/signals")]:
            status, body = call(a.base_url, method, path, body={})
            assert status == 401 and body["error"]["code"] == "unauthorized", (method, path)
            status, body = call(a.base_url, method, path, body={}, headers={"Authorization": "Bearer nope"})
            assert status == 403 and body["error"]["code"] == "forbidden", (method, path)

        status, rules = call(a.base_url, "GET", "/api/v1/admin/rules", headers=ADMIN)
        assert status == 200 and rules["emergency_mode"] == "off" and rules["max_multiplier"] == 5.0

        # validation errors name the field; nothing is written
        for bad, field in [({**rules, "max_multiplier": 0.5}, "max_multiplier"),
                           ({**rules, "emergency_mode": "panic"}, "emergency_mode"),
                           ({**rules, "demand_level_thresholds": [2.0, 1.0, 3.0]}, "demand_level_thresholds"),
                           ({**rules, "colour": "red"}, "colour")]:
            status, body = call(a.base_url, "PUT", "/api/v1/admin/rules", bad, headers=ADMIN)
            assert status == 400 and body["error"]["field"] == field, body

        # a write on node a is served by node b within 2 s
        started = time.monotonic()
        status, body = call(a.base_url, "PUT", "/api/v1/admin/rules",
                            {**rules, "max_multiplier": 2.5, "emergency_mode": "cap"}, headers=ADMIN)
        assert status == 200 and body["max_multiplier"] == 2.5
        wait_for(lambda: call(b.base_url, "GET", "/api/v1/admin/rules", headers=ADMIN)[1]["emergency_mode"] == "cap",
                 timeout=2.0, what="rules on node b")
        assert time.monotonic() - started < 2.5

        status, zone = call(a.base_url, "GET", "/api/v1/admin/zones/soma", headers=ADMIN)
        assert status == 200 and zone["id"] == "soma" and zone["geometry"]["type"] == "Polygon"
        status, body = call(a.base_url, "GET", "/api/v1/admin/zones/atlantis", headers=ADMIN)
        assert status == 404 and body["error"]["code"] == "unknown_zone"
        for bad, field in [({**zone, "max_multiplier": 0.2}, "max_multiplier"),
                           ({**zone, "id": "mission"}, "id"),
                           ({**zone, "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}}, "geometry"),
                           ({**zone, "min_multiplier": 3.0, "max_multiplier": 2.0}, "max_multiplier")]:
            status, body = call(a.base_url, "PUT", "/api/v1/admin/zones/soma", bad, headers=ADMIN)
            assert status == 400 and body["error"]["field"] == field, body
        status, body = call(b.base_url, "PUT", "/api/v1/admin/zones/soma", {**zone, "max_multiplier": 2.2},
                            headers=ADMIN)
        assert status == 200 and body["max_multiplier"] == 2.2
        wait_for(lambda: call(a.base_url, "GET", "/api/v1/admin/zones/soma", headers=ADMIN)[1]["max_multiplier"] == 2.2,
                 timeout=2.0, what="zone on node a")
        new_zone = {**zone, "id": "dogpatch", "name": "Dogpatch"}
        status, body = call(a.base_url, "PUT", "/api/v1/admin/zones/dogpatch", new_zone, headers=ADMIN)
        assert status == 201

        # signals: time-limited, stored under signal.<id>, visible on the other node
        status, body = call(a.base_url, "POST", "/api/v1/admin/signals",
                            {"zone_id": "soma", "kind": "weather", "factor": 1.2, "duration_s": 600,
                             "reason": "storm", "id": "storm-soma"}, headers=ADMIN)
        assert status == 201 and body["id"] == "storm-soma" and body["expires_at"] - body["created_at"] == 600
        status, body = call(a.base_url, "POST", "/api/v1/admin/signals",
                            {"zone_id": "atlantis", "kind": "event", "factor": 1.2, "duration_s": 60}, headers=ADMIN)
        assert status == 400 and body["error"]["field"] == "zone_id"
        status, body = call(a.base_url, "POST", "/api/v1/admin/signals",
                            {"zone_id": "soma", "kind": "event", "factor": 9, "duration_s": 60}, headers=ADMIN)
        assert status == 400 and body["error"]["field"] == "factor"
        wait_for(lambda: [s["id"] for s in call(b.base_url, "GET", "/api/v1/admin/signals", headers=ADMIN)[1]
                          ["signals"]] == ["storm-soma"], timeout=2.0, what="signal on node b")
        status, _ = call(b.base_url, "DELETE", "/api/v1/admin/signals/storm-soma", headers=ADMIN)
        assert status == 204
        wait_for(lambda: call(a.base_url, "GET", "/api/v1/admin/signals", headers=ADMIN)[1]["signals"] == [],
                 timeout=2.0, what="signal gone on node a")


async def test_admin_writes_land_in_the_config_bucket(tmp_path, nats_server, nats_client):
    _nc, js = nats_client
    with _node(tmp_path, nats_server.url, "a") as a:
        a.wait_ready()
        status, _ = call(a.base_url, "POST", "/api/v1/admin/signals",
                         {"zone_id": "mission", "kind": "event", "factor": 1.5, "duration_s": 120, "id": "concert"},
                         headers=ADMIN)
        assert status == 201
        kv = await js.key_value("eq_sf_config")
        entry = await kv.get("signal.concert")
        stored = msgspec.json.decode(entry.value)
        assert stored["zone_id"] == "mission" and stored["factor"] == 1.5 and stored["kind"] == "event"
        _, rules = call(a.base_url, "GET", "/api/v1/admin/rules", headers=ADMIN)
        call(a.base_url, "PUT", "/api/v1/admin/rules", {**rules, "max_multiplier": 3.0}, headers=ADMIN)
        assert msgspec.json.decode((await kv.get("rules")).value)["max_multiplier"] == 3.0

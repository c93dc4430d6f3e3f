"""Degraded mode with a real outage: the nats-server under a running node is stopped, quotes keep answering."""

from __future__ import annotations

import contextlib
import time

from nats.aio.client import Client

from equilibrium_node.bus.embedded import EmbeddedNatsServer
from equilibrium_node.messages import demand_signal_decoder
from tests.support.api import call, estimate_body, put_surge, served_cell, surge_update, wait_for
from tests.support.natsd import running_nats
from tests.support.nodeproc import NodeProcess, node_env
from tests.support.ports import free_port

PICKUP = (37.7880, -122.4000)
STALE_AFTER_S = 2.0
FALLBACK_AFTER_S = 5.0


def _metric(node: NodeProcess, name: str) -> float:
    _, text = node.get("/metrics")
    line = next(x for x in text.splitlines() if x.startswith(name + " ") or x.startswith(name + "{"))
    return float(line.split()[-1])


async def test_nats_down_quotes_stale_then_fallback(tmp_path):
    async with running_nats(tmp_path / "nats") as server:
        port = free_port()
        spare_port = free_port()  # where NATS comes back (the old port may linger in TIME_WAIT)
        # Short windows: the node leads its region and its pricing ticks (every second) are the evidence.
        env = node_env(tmp_path / "data", port, EQ_NATS_URL=f"{server.url},nats://127.0.0.1:{spare_port}",
                       EQ_PRICING_STALE_AFTER_S=str(STALE_AFTER_S), EQ_PRICING_FALLBACK_AFTER_S=str(FALLBACK_AFTER_S),
                       EQ_NATS_RECONNECT_WAIT_S="0.5")
        node = NodeProcess(tmp_path, env=env, http_port=port).start()
        try:
            node.wait_ready()
            nc = Client()
            await nc.connect(server.url)
            injected = surge_update(*PICKUP, 1.7, zone_id="financial_district")
            await put_surge(nc.jetstream(), "sf", injected)
            await nc.close()
            # fresh, and still fresh well past stale_after_s: the leader's ticks keep it so (read through the
            # heatmap, which sends no demand signal, so the leader leaves the injected cell alone)
            wait_for(lambda: (c := served_cell(node.base_url, injected.cell)) and c["surge_multiplier"] == 1.7,
                     what="surge 1.7 in the mirror")
            time.sleep(STALE_AFTER_S + 1.0)
            cell = served_cell(node.base_url, injected.cell)
            assert cell and cell["degraded"] is False and cell["surge_multiplier"] == 1.7
            assert _metric(node, "eq_degraded") == 0

            outage_quotes: list[str] = []

            def quote():
                status, body = call(node.base_url, "POST", "/api/v1/pricing/estimate", estimate_body(*PICKUP))
                assert status == 200, body
                if body["degraded"]:
                    outage_quotes.append(body["quote_id"])
                return body

            await server.stop()  # the outage
            down_at = time.monotonic()
            stale = wait_for(lambda: (q := quote())["degraded"] and q, timeout=3.0, what="degraded quote")
            assert stale["surge_multiplier"] == 1.7  # the last known multiplier
            assert stale["final_fare"] == round(stale["base_fare"] * 1.7 + 1e-9, 2)
            status, ready = node.get("/readyz")
            assert status == 503 and ready["degraded"] is True and "nats_disconnected" in ready["reasons"]
            assert _metric(node, "eq_degraded") == 1
            # an accept cannot be promised without the ledger: 503, never a double booking
            status, err = call(node.base_url, "POST", f"/api/v1/pricing/quotes/{stale['quote_id']}/accept")
            assert status == 503 and err["error"]["code"] == "unavailable"
            # heatmaps keep answering from the mirror, marked degraded
            heatmap = "/api/v1/pricing/heatmap?bounds=37.7,-122.5,37.85,-122.35&zoom=12"
            status, heat = call(node.base_url, "GET", heatmap)
            assert status == 200 and heat["degraded"] is True and heat["cells"][0]["surge_multiplier"] == 1.7

            # past fallback_after_s without fresh evidence: 1.0, still degraded
            remaining = FALLBACK_AFTER_S - (time.monotonic() - down_at) + 1.0
            fallback = wait_for(lambda: (q := quote())["surge_multiplier"] == 1.0 and q, timeout=remaining + 3,
                                interval=0.25, what="fallback to 1.0")
            assert time.monotonic() - down_at > FALLBACK_AFTER_S - 0.5  # not before its time
            assert fallback["degraded"] is True and fallback["final_fare"] == fallback["base_fare"]
            _, text = node.get("/metrics")
            assert 'eq_quotes_total{result="issued_degraded"}' in text

            # NATS comes back (same store, the node's second URL): the signals held during the outage are published
            back = EmbeddedNatsServer(tmp_path / "nats", port=spare_port, name="eq-test")
            await back.start()
            try:
                node.wait_ready(timeout=15)
                nc = Client()
                await nc.connect(back.url)
                js = nc.jetstream()
                sub = await js.pull_subscribe("eq.sf.location.rider", stream="EQ_LOC_SF")
                seen: list = []
                deadline = time.monotonic() + 10
                while len(seen) < len(outage_quotes) and time.monotonic() < deadline:
                    with contextlib.suppress(TimeoutError):
                        seen += [demand_signal_decoder.decode(m.data) for m in await sub.fetch(500, timeout=1.0)]
                await nc.close()
                assert len(outage_quotes) >= 2
                assert sum(1 for s in seen if s.kind == "quote") >= len(outage_quotes)
            finally:
                await back.stop()
        finally:
            node.kill()

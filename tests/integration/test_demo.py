"""``equilibrium-node demo`` as ``make run`` starts it: embedded NATS, SF config, traffic through NATS, priced cells."""

from __future__ import annotations

import asyncio
import re
import signal
import time

import msgspec
import pytest

import nats
from equilibrium_node.messages import MSG_ID_HEADER, DemandSignal, DriverPing
from tests.support.api import call, wait_for
from tests.support.nodeproc import NodeProcess, node_env, pid_alive
from tests.support.ports import free_port

SF = "bounds=37.60,-122.52,37.83,-122.35"
STATUS_RE = re.compile(r"^demo \d\d:\d\d · traffic ([\d ]+) ev/s .* · ingested ([\d ]+) ev/s · ([\d ]+) cells priced.*"
                       r" · (\d+) clients? · (http://\S+)$", re.M)


def _number(text: str) -> int:
    return int(text.replace(" ", ""))


@pytest.mark.timeout(150)
async def test_demo_publishes_through_nats_prices_cells_and_stops_on_ctrl_c(tmp_path):
    nats_port, http_port = free_port(), free_port()
    env = node_env(tmp_path / "data", http_port, EQ_NATS_EMBEDDED_PORT=str(nats_port), EQ_DEMO_STATUS_EVERY_S="1",
                   EQ_LOG_FORMAT="text")
    del env["EQ_ADMIN_TOKEN"], env["EQ_QUOTE_SECRET"]  # as on a fresh machine: the demo needs no secrets
    node = NodeProcess(tmp_path, command="demo", env=env, http_port=http_port)
    with node:
        await node.wait_ready_async(timeout=60)

        # an app's view of the traffic: the embedded server, the contract's subjects, payloads and headers
        nc = await nats.connect(f"nats://127.0.0.1:{nats_port}")
        seen: dict[str, list] = {"driver": [], "rider": []}

        async def on_msg(msg) -> None:
            kind = msg.subject.rsplit(".", 1)[-1]
            decoded = msgspec.json.decode(msg.data, type=DriverPing if kind == "driver" else DemandSignal)
            seen[kind].append((decoded, (msg.headers or {}).get(MSG_ID_HEADER)))

        await nc.subscribe("eq.sf.location.>", cb=on_msg)
        deadline = time.monotonic() + 30
        while (len(seen["driver"]) < 500 or len(seen["rider"]) < 5) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        await nc.close()
        assert len(seen["driver"]) >= 500 and len(seen["rider"]) >= 5, {k: len(v) for k, v in seen.items()}
        for event, msg_id in seen["driver"] + seen["rider"]:
            assert msg_id == event.event_id
        drivers = {ping.driver_id for ping, _ in seen["driver"]}
        assert len(drivers) > 300 and all(d.startswith("demo-d") for d in drivers)
        assert {ping.status for ping, _ in seen["driver"]} >= {"available", "on_trip"}
        assert {ping.vehicle_type for ping, _ in seen["driver"]} == {"standard", "xl", "premium"}

        # the node applies them from its stream and prices cells; the console says so once a second
        def status_line():
            lines = STATUS_RE.findall(node.log())
            good = [ln for ln in lines if _number(ln[1]) > 0 and _number(ln[2]) > 0]
            return good[-1] if good else None

        traffic, _ingested, _priced, clients, address = await asyncio.to_thread(
            wait_for, status_line, 60.0, 0.5, "a status line with ingested events and priced cells")
        assert _number(traffic) > 100 and address == f"{node.base_url}/" and clients == "0"
        log = node.log()
        assert f"is running: {node.base_url}/" in log
        token = re.search(r"admin token for this session: (\S+)", log).group(1)  # type: ignore[union-attr]

        def heatmap():
            status, body = call(node.base_url, "GET", f"/api/v1/pricing/heatmap?{SF}&zoom=13")
            return body if status == 200 and len(body["cells"]) >= 20 else None  # type: ignore[index]

        body = await asyncio.to_thread(wait_for, heatmap, 30.0, 0.5, "a priced heatmap")
        assert {"supply_count", "demand_count", "trend", "color", "polygon"} <= set(body["cells"][0])
        assert any(c["supply_count"] > 0 for c in body["cells"]) and any(c["demand_count"] > 0 for c in body["cells"])
        status, metrics = call(node.base_url, "GET", "/metrics")
        for kind in ("driver", "rider"):
            value = re.search(rf'^eq_events_ingested_total{{kind="{kind}"}} (\S+)$', metrics, re.M)
            assert value and float(value.group(1)) > 0, kind
        assert call(node.base_url, "GET", "/api/v1/admin/rules", headers={"Authorization": f"Bearer {token}"})[0] == 200
        status, region = call(node.base_url, "GET", "/api/v1/region")
        assert status == 200 and region["vehicle_types"] == ["standard", "xl", "premium"]  # type: ignore[index]

        # Ctrl-C: exit 0, the embedded server stopped with the node
        embedded = node.embedded_pid()
        assert embedded is not None and pid_alive(embedded)
        node.proc.send_signal(signal.SIGINT)  # type: ignore[union-attr]
        assert await asyncio.to_thread(node.proc.wait, 15) == 0  # type: ignore[union-attr]
        assert not pid_alive(embedded)

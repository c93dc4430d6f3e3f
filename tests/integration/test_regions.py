"""Two regions on one nats-server, each region's nodes under a NATS user that may touch only that region's names
(``bus/permissions.py``): both regions start, elect their own leader, price, quote and serve, and the server
reports no permissions violation, so no node touched another region's subjects, streams or buckets."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest
from nats.aio.client import Client

from equilibrium_node.__main__ import PROJECT_ROOT
from equilibrium_node.bus.embedded import EmbeddedNatsServer
from equilibrium_node.bus.names import RegionNames
from equilibrium_node.bus.permissions import nats_conf_user, region_streams
from equilibrium_node.cluster.lease import LEASE_KEY
from tests.support.api import ADMIN, call
from tests.support.market import Event, EventGen, publish
from tests.support.nodeproc import NodeProcess, node_env
from tests.support.ports import free_port

pytestmark = pytest.mark.slow  # ~10 s: three node processes

SF, NYC = RegionNames("sf"), RegionNames("nyc")
MIDTOWN = (40.7580, -73.9855)


def server_config() -> str:
    users = ",\n".join([
        '{user: "ops", password: "ops"}',
        nats_conf_user("sf", "sf-secret", SF),
        nats_conf_user("nyc", "nyc-secret", NYC),
    ])
    return f"accounts {{\n  EQ: {{\n    jetstream: enabled\n    users: [\n{users}\n    ]\n  }}\n}}\n"


def node(tmp_path, url: str, region: str, name: str) -> NodeProcess:
    port = free_port()
    env = node_env(tmp_path / f"{name}-data", port, EQ_NATS_URL=url, EQ_NODE_ID=name,
                   EQ_NATS_USER=region, EQ_NATS_PASSWORD=f"{region}-secret", EQ_PRICING_TICK_S="0.5",
                   EQ_CONFIG=str(PROJECT_ROOT / "config" / f"{region}.toml"))
    return NodeProcess(tmp_path, env=env, http_port=port, name=name).start()


def nyc_events(n: int) -> list[Event]:
    out = []
    for i in range(n):
        body = {"event_id": f"n{i}", "driver_id": f"nd{i % 7}", "lat": MIDTOWN[0] + (i % 5) * 1e-3,
                "lng": MIDTOWN[1], "status": "available", "vehicle_type": "standard", "ts": time.time()}
        out.append(Event(NYC.driver_subject, orjson.dumps(body), f"n{i}"))
    return out


async def surge_keys(js, names: RegionNames) -> int:
    return (await js.stream_info(f"KV_{names.surge_bucket}")).state.messages


async def test_regions_share_a_server_and_never_touch_each_others_names(tmp_path):
    conf = tmp_path / "nats.conf"
    conf.write_text(server_config())
    server = EmbeddedNatsServer(tmp_path / "nats", port=0, name="eq-regions", config_file=str(conf))
    url = await server.start()
    nodes: list[NodeProcess] = []
    nc = Client()
    try:
        nodes = [node(tmp_path, url, "sf", "sf-a"), node(tmp_path, url, "nyc", "nyc-a")]
        for n in nodes:
            await n.wait_ready_async()
        nodes.append(node(tmp_path, url, "sf", "sf-b"))
        await nodes[-1].wait_ready_async()
        await nc.connect(url, user="ops", password="ops")
        js = nc.jetstream()
        await publish(js, [EventGen(now=time.time(), seed=2).good() for _ in range(150)] + nyc_events(40))

        deadline = time.monotonic() + 20
        while not (await surge_keys(js, SF) and await surge_keys(js, NYC)):
            assert time.monotonic() < deadline, "both regions should price"
            await asyncio.sleep(0.2)
        # each region has its own streams and buckets, nothing else exists
        names = {info.config.name async for info in _streams(js)}
        assert names == set(region_streams(SF)) | set(region_streams(NYC))
        # each region elected its own leader in its own bucket
        for names_, leader in ((SF, "sf-a"), (NYC, "nyc-a")):
            msg = await js.get_msg(f"KV_{names_.nodes_bucket}", subject=f"$KV.{names_.nodes_bucket}.{LEASE_KEY}")
            assert orjson.loads(msg.data)["node_id"] == leader
        roles = {n.log_path.stem: n.get("/readyz")[1]["role"] for n in nodes}
        assert roles == {"sf-a": "leader", "nyc-a": "leader", "sf-b": "follower"}
        # the nyc node quotes a nyc trip in dollars with nyc's fares; the sf follower lists its region's nodes
        status, quote = call(nodes[1].base_url, "POST", "/api/v1/pricing/estimate", {
            "pickup_location": {"latitude": MIDTOWN[0], "longitude": MIDTOWN[1]},
            "dropoff_location": {"latitude": 40.7128, "longitude": -74.0060}, "vehicle_type": "standard",
            "user_id": "u"})
        assert status == 200 and quote["zone_info"]["zone_id"] == "midtown", quote
        status, cluster = call(nodes[2].base_url, "GET", "/api/v1/admin/cluster", headers=ADMIN)
        assert status == 200 and {n["node_id"] for n in cluster["nodes"]} == {"sf-a", "sf-b"}
        status, market = call(nodes[2].base_url, "GET", "/api/v1/market/cells?bounds=37.6,-122.6,37.9,-122.3",
                              headers=ADMIN)
        assert status == 200 and market["cells"]
        # the control: the server does enforce them (sf's user cannot even look at nyc's stream)
        errors: list[Exception] = []

        async def note(exc: Exception) -> None:
            errors.append(exc)

        probe = Client()
        await probe.connect(url, user="sf", password="sf-secret", error_cb=note)
        with pytest.raises(Exception):  # noqa: B017 - the request dies unanswered (a timeout)
            await probe.jetstream(timeout=1).stream_info(NYC.location_stream)
        await probe.close()
        assert any("permissions violation" in str(e).lower() for e in errors)
    finally:
        for n in nodes:
            assert n.terminate() == 0
        if nc.is_connected:
            await nc.close()
        await server.stop()
    # the server enforced the per-region users all along: not one violation
    # (except the control's own, on purpose)
    control = f'"EQ/user:sf" - Publish Violation - Subject "$JS.API.STREAM.INFO.{NYC.location_stream}"'
    violations = [x for x in (tmp_path / "nats" / "nats-server.log").read_text().splitlines() if "Violation" in x]
    assert [v for v in violations if control not in v] == [], violations[:5]
    assert len(violations) == 1
    for n in nodes:
        assert "Permissions Violation" not in n.log() and "permissions violation" not in n.log().lower()


async def _streams(js):
    for info in await js.streams_info():
        yield info

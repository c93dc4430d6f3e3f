"""Nodes of one region on one nats-server (real nodes in this process, real HTTP): exactly one leader, followers
that serve every read, a graceful handover, a leader deposed by another lease holder that stops writing, and
late writes of an older term undone."""

from __future__ import annotations

import asyncio
import contextlib
import time

import aiohttp
import msgspec

from equilibrium_node.bus.names import RegionNames
from equilibrium_node.cluster.lease import LEASE_KEY, LeaseRecord
from equilibrium_node.market.checkpoint import CheckpointStore
from equilibrium_node.messages import TERM_HEADER, surge_update_decoder
from tests.support.market import EventGen, publish
from tests.support.nodeproc import TEST_ADMIN_TOKEN
from tests.support.streams import running_node

NAMES = RegionNames("sf")
ADMIN = {"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}
SF = "37.6,-122.6,37.9,-122.3"
QUOTE = {"pickup_location": {"latitude": 37.7946, "longitude": -122.395},
         "dropoff_location": {"latitude": 37.76, "longitude": -122.41}, "vehicle_type": "standard", "user_id": "u1"}
#: a long lease: a takeover well before it proves the lease was released, not waited out
LONG = {"EQ_CLUSTER_LEASE_TTL_S": "30", "EQ_CLUSTER_HEARTBEAT_S": "0.5", "EQ_ADMIN_TOKEN": TEST_ADMIN_TOKEN,
        "EQ_MARKET_CHECKPOINT_INTERVAL_S": "0.5"}
SHORT = {"EQ_CLUSTER_LEASE_TTL_S": "2", "EQ_CLUSTER_HEARTBEAT_S": "0.5", "EQ_ADMIN_TOKEN": TEST_ADMIN_TOKEN,
         "EQ_MARKET_CHECKPOINT_INTERVAL_S": "0.3"}


async def until(predicate, timeout_s: float, what: str, interval_s: float = 0.05):
    """Poll ``predicate`` (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(interval_s)


async def get_json(http: aiohttp.ClientSession, node, path: str, **kw) -> tuple[int, dict]:
    async with http.get(node.status.http_address + path, **kw) as resp:
        return resp.status, await resp.json()


async def traffic(js, n: int = 200, seed: int = 3) -> None:
    gen = EventGen(now=time.time(), seed=seed, drivers=40, riders=80)
    await publish(js, [gen.good() for _ in range(n)])


async def last_seq(js, stream: str) -> int:
    return (await js.stream_info(stream)).state.last_seq


async def cluster_view(http, node) -> dict | None:
    status, body = await get_json(http, node, "/api/v1/admin/cluster", headers=ADMIN)
    return body if status == 200 else None


async def test_one_leader_followers_serve_and_a_graceful_stop_hands_over_at_once(nats_server, nats_client, tmp_path):
    _, js = nats_client
    async with contextlib.AsyncExitStack() as stack:
        http = await stack.enter_async_context(aiohttp.ClientSession())
        stop_a = contextlib.AsyncExitStack()
        a = await stop_a.enter_async_context(running_node(nats_server.url, tmp_path / "a", EQ_NODE_ID="a", **LONG))
        b = await stack.enter_async_context(running_node(nats_server.url, tmp_path / "b", EQ_NODE_ID="b", **LONG))
        try:
            await traffic(js)
            head = await last_seq(js, NAMES.location_stream)
            assert (a.status.role, b.status.role) == ("leader", "follower")
            for node in (a, b):
                await until(lambda n=node: n.market.applied_seq >= head, 15, "the market caught up")
                status, ready = await until(lambda n=node: _ready(http, n), 15, "ready")
                assert ready["role"] == node.status.role
                assert ready["leader_id"] == "a" and ready["leader_term"] == a.lease.term > 0
            # the follower serves every read: quotes, the heatmap, the market it tails, explain
            async with http.post(b.status.http_address + "/api/v1/pricing/estimate", json=QUOTE) as resp:
                assert resp.status == 200
            status, _ = await get_json(http, b, "/api/v1/pricing/heatmap?bounds=37.7,-122.5,37.85,-122.35&zoom=12")
            assert status == 200
            status, market = await get_json(http, b, f"/api/v1/market/cells?bounds={SF}", headers=ADMIN)
            assert status == 200 and market["applied_seq"] == head and len(market["cells"]) > 5
            status, _ = await get_json(http, b, "/api/v1/pricing/explain?lat=37.7946&lng=-122.395")
            assert status == 200
            # both heartbeat their id, role and address; the lease names the leader and its term
            expected = {("a", "leader", a.status.http_address), ("b", "follower", b.status.http_address)}
            cluster = await until(lambda: _with_nodes(http, b, 2, expected), 10, "both heartbeats")
            assert cluster["leader"]["node_id"] == "a" and cluster["leader"]["term"] == a.lease.term
            assert all(n["age_s"] < 5 and n["started_at"] > 0 for n in cluster["nodes"])
            for node, flag in ((a, 1), (b, 0)):
                async with http.get(node.status.http_address + "/metrics") as resp:
                    text = await resp.text()
                assert f"eq_leader {flag}\n" in text and f"eq_leader_term {a.lease.term}\n" in text
            term_a = a.lease.term
            # only the leader writes checkpoints and prices
            await until(lambda: _checkpoint_by(js, "a"), 10, "a's checkpoint")
        finally:
            await stop_a.aclose()  # a stops as on SIGTERM: final checkpoint, then the lease is released
        stopped = time.monotonic()
        await until(lambda: b.status.role == "leader", 10, "b to lead")
        assert time.monotonic() - stopped < 10 < 30  # released, not waited out (the lease lasts 30 s)
        assert b.lease.term > term_a
        head = await last_seq(js, NAMES.location_stream)  # the quote above added a demand signal
        _, manifest = await CheckpointStore(await js.key_value(NAMES.state_bucket)).load()
        assert manifest.node_id == "a" and manifest.seq == head  # a's final checkpoint, which b resumed from
        await until(lambda: b.market.applied_seq == head and b.status.state_loaded, 10, "b's state")
        await traffic(js, 50, seed=4)
        await until(lambda: _checkpoint_by(js, "b"), 10, "b's first checkpoint")
        cluster = await until(lambda: _with_nodes(http, b, 1), 10, "a's heartbeat gone")
        assert cluster["nodes"][0]["node_id"] == "b" and cluster["nodes"][0]["role"] == "leader"


async def _ready(http, node):
    status, body = await get_json(http, node, "/readyz")
    return (status, body) if status == 200 else None


async def _with_nodes(http, node, count: int, expected: set | None = None):
    body = await cluster_view(http, node)
    if body is None or len(body["nodes"]) != count:
        return None
    if expected is not None and {(n["node_id"], n["role"], n["http"]) for n in body["nodes"]} != expected:
        return None
    return body


async def _checkpoint_by(js, node_id: str) -> bool:
    found = await CheckpointStore(await js.key_value(NAMES.state_bucket)).load()
    return found is not None and found[1].node_id == node_id


async def _checkpoint_of_term(js, term: int):
    found = await CheckpointStore(await js.key_value(NAMES.state_bucket)).load()
    return found if found is not None and found[1].term == term else None


async def test_a_leader_whose_lease_is_taken_steps_down_and_writes_nothing(nats_server, nats_client, tmp_path):
    """Another holder takes the lease (as a new leader would after a partition): the node's next renewal finds
    it, the node becomes a follower at once and writes nothing more (no price, no audit, no checkpoint, no DLQ
    copy) while still serving; once the lease is free again it leads with a larger term."""
    _, js = nats_client
    async with running_node(nats_server.url, tmp_path / "a", EQ_NODE_ID="a", **SHORT) as node:
        gen = EventGen(now=time.time(), seed=5, drivers=30, riders=60)
        await publish(js, [gen.good() for _ in range(300)])
        await until(lambda: node.metrics.surge_updates.labels().value > 0, 15, "prices published")
        await until(lambda: _checkpoint_by(js, "a"), 10, "a checkpoint")
        old_term = node.lease.term
        # the thief: compare-and-set over the node's current revision, with a record of its own
        subject = f"$KV.{NAMES.nodes_bucket}.{LEASE_KEY}"
        latest = await js.get_msg(f"KV_{NAMES.nodes_bucket}", subject=subject, direct=True)
        record = msgspec.json.encode(LeaseRecord(node_id="thief", term=0))
        for _ in range(20):  # the node renews between our read and write now and then: read again
            try:
                ack = await js.publish(subject, record,
                                       headers={"Nats-Expected-Last-Subject-Sequence": str(latest.seq)})
                break
            except Exception:
                latest = await js.get_msg(f"KV_{NAMES.nodes_bucket}", subject=subject, direct=True)
        else:
            raise AssertionError("could not take the lease")
        await until(lambda: node.status.role == "follower", 5, "the node to step down")
        await until(lambda: node.cluster.term is not None and node.cluster.term.role == "follower", 10, "follower")
        assert node.status.leader_id == "thief"
        marks = {s: await last_seq(js, s) for s in ("KV_eq_sf_surge", NAMES.audit_stream, "KV_eq_sf_state",
                                                    NAMES.dlq_stream)}
        # events keep coming (garbage too, which a leader would copy to the DLQ): the follower only reads them
        await publish(js, [gen.good() if i % 10 else gen.bad("not_json") for i in range(200)])
        head = await last_seq(js, NAMES.location_stream)
        await until(lambda: node.market.applied_seq == head, 10, "the follower to tail the new events")
        await asyncio.sleep(1.0)  # several ticks and checkpoint intervals
        assert {s: await last_seq(js, s) for s in marks} == marks
        async with aiohttp.ClientSession() as http, \
                http.post(node.status.http_address + "/api/v1/pricing/estimate", json=QUOTE) as resp:
            assert resp.status == 200
        # the thief goes away (its lease lapses): the node leads again, with a larger term
        await until(lambda: node.status.role == "leader", 10, "the node to lead again")
        assert node.lease.term > ack.seq > old_term
        head = await last_seq(js, NAMES.location_stream)  # the quote added a demand signal
        _, manifest = await until(lambda: _checkpoint_of_term(js, node.lease.term), 10, "a checkpoint of the new term")
        assert manifest.node_id == "a" and manifest.seq == head
        # it resumed from the checkpoint its previous term wrote before the lease was taken, and replayed
        assert node.market.audit["messages"] == head and node.market.audit["seq_sum"] == head * (head + 1) // 2


async def test_a_late_write_of_an_older_term_is_overwritten(nats_server, nats_client, tmp_path):
    _, js = nats_client
    async with running_node(nats_server.url, tmp_path / "a", EQ_NODE_ID="a", **SHORT) as node:
        await traffic(js, 300, seed=7)
        entry = await until(lambda: next((e for e in node.surge_view.entries.values() if e.term == node.lease.term),
                                         None), 15, "an entry of this term")
        key = f"{entry.update.cell}.{entry.update.vehicle_type}"
        kv = await js.key_value(NAMES.surge_bucket)
        stale = msgspec.structs.replace(entry.update, multiplier=entry.update.multiplier + 2.0)
        await js.publish(f"$KV.{NAMES.surge_bucket}.{key}", msgspec.json.encode(stale),
                         headers={TERM_HEADER: str(node.lease.term - 1)})
        # within a tick or two the leader writes its own decision back, stamped with its term
        async def repaired():
            got = await js.get_msg(f"KV_{NAMES.surge_bucket}", subject=f"$KV.{NAMES.surge_bucket}.{key}", direct=True)
            return got.headers and got.headers.get(TERM_HEADER) == str(node.lease.term) and got

        got = await until(repaired, 10, "the entry to be repaired")
        assert surge_update_decoder.decode(got.data).multiplier == entry.update.multiplier
        # a value written without a term (by hand, by a tool) is left alone
        manual = msgspec.structs.replace(entry.update, multiplier=entry.update.multiplier + 1.0)
        revision = await kv.put(key, msgspec.json.encode(manual))
        await asyncio.sleep(1.0)
        assert (await kv.get(key)).revision == revision

"""The production topology as local processes (docker-compose.yml without Docker): a 3-server JetStream
cluster started from the repo's ``nats/cluster/`` configs, two nodes of one region with every stream and
bucket R3, steady traffic and quotes. The leader node is SIGKILLed, then one NATS server (the one leading the
location stream), then the old node comes back.

Asserted: the follower takes over within ``lease_ttl_s`` + 2 s and resumes from the checkpoint; every
acknowledged event is in the stream exactly once and counted exactly once (the market through the API at one
instant, and the final checkpoint, equal a reference fed from the stream without interruption); readiness comes
back; quotes keep answering throughout (degraded at worst); the restarted node joins as a follower."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

import aiohttp
import pytest
from nats.aio.client import Client
from nats.js import api

from equilibrium_node.bus.names import RegionNames
from equilibrium_node.cluster.lease import LEASE_KEY, LeaseRecord
from equilibrium_node.market.checkpoint import CheckpointStore
from equilibrium_node.market.snapshot import decode
from equilibrium_node.market.state import MarketState
from tests.integration.test_exactly_once import cells_from_api, cells_from_state
from tests.support.market import Event, EventGen, reference_state
from tests.support.natsd import running_cluster
from tests.support.nodeproc import TEST_ADMIN_TOKEN, NodeProcess, node_env
from tests.support.ports import free_port

NAMES = RegionNames("sf")
TTL_S = 3.0
BOUNDS = "37.5,-122.7,38.0,-122.2"
AUTH = {"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}
QUOTE = {"pickup_location": {"latitude": 37.7946, "longitude": -122.395},
         "dropoff_location": {"latitude": 37.76, "longitude": -122.41}, "vehicle_type": "standard", "user_id": "u"}

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]  # ~45-60 s: 3 NATS servers, 3 node starts


async def quiet(_exc: Exception) -> None:
    """The test's client reconnects by design; its errors are expected."""


def start_node(tmp_path, url: str, name: str, run: int = 1) -> NodeProcess:
    port = free_port()
    env = node_env(tmp_path / f"{name}-data", port, EQ_NATS_URL=url, EQ_NATS_REPLICAS="3", EQ_NODE_ID=name,
                   EQ_CLUSTER_LEASE_TTL_S=str(TTL_S), EQ_CLUSTER_HEARTBEAT_S="0.5", EQ_PRICING_TICK_S="0.5",
                   EQ_MARKET_CHECKPOINT_INTERVAL_S="1", EQ_NATS_RECONNECT_WAIT_S="0.25",
                   # small caps: the servers' test stores are small (JetStream reserves each stream's cap)
                   EQ_STREAMS_LOCATION_MAX_BYTES=str(256 << 20), EQ_STREAMS_AUDIT_MAX_BYTES=str(256 << 20),
                   EQ_STREAMS_DLQ_MAX_BYTES=str(64 << 20))
    return NodeProcess(tmp_path, env=env, http_port=port, name=f"{name}{run}").start()


def readiness(node: NodeProcess) -> dict:
    try:
        status, body = node.get("/readyz", timeout=2.0)
    except OSError:
        return {}
    return {**body, "status": status} if isinstance(body, dict) else {}


def metric(node: NodeProcess, name: str) -> float:
    _, text = node.get("/metrics")
    return float(next(line.split()[-1] for line in text.splitlines() if line.startswith(name + " ")))


async def until(predicate, timeout_s: float, what: str, interval_s: float = 0.1, nodes: tuple = ()):
    deadline = time.monotonic() + timeout_s
    while True:
        value = await asyncio.to_thread(predicate)
        if value:
            return value
        if time.monotonic() > deadline:
            states = {n.log_path.stem: readiness(n) for n in nodes}
            raise AssertionError(f"timed out waiting for {what}: {states}")
        await asyncio.sleep(interval_s)


class Traffic:
    """Steady events with ``Nats-Msg-Id``; an event whose publish is not acknowledged is sent again (same id)
    until it is, as a careful publisher would; records what was acknowledged."""

    def __init__(self, js, gen: EventGen) -> None:
        self.js = js
        self.gen = gen
        self.acked: dict[str, Event] = {}
        self.retries = 0
        self.stopping = False

    async def run(self) -> None:
        waiting: list[Event] = []
        while not self.stopping or waiting:
            batch = waiting + ([self.gen.good() for _ in range(8)] if not self.stopping else [])
            waiting = []
            futures = []
            for event in batch:
                try:
                    futures.append((event, await self.js.publish_async(event.subject, event.payload,
                                                                       headers={"Nats-Msg-Id": event.msg_id})))
                except Exception:
                    waiting.append(event)
            for event, future in futures:
                try:
                    await asyncio.wait_for(future, 3.0)
                    self.acked[event.msg_id] = event
                except Exception:
                    waiting.append(event)
            self.retries += len(waiting)
            await asyncio.sleep(0.05 if not waiting else 0.3)


class Quotes:
    """Asks the live nodes for quotes all along; records every answer."""

    def __init__(self) -> None:
        self.targets: list[NodeProcess] = []
        self.answers: list[tuple[str, int, bool]] = []
        self.failures: list[tuple[str, str]] = []
        self.stopping = False

    async def run(self) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
            while not self.stopping:
                for node in list(self.targets):
                    try:
                        async with http.post(node.base_url + "/api/v1/pricing/estimate", json=QUOTE) as resp:
                            body = await resp.json()
                            self.answers.append((node.log_path.stem, resp.status, bool(body.get("degraded"))))
                            if resp.status != 200:
                                self.failures.append((node.log_path.stem, json.dumps(body)))
                    except Exception as exc:
                        if node in self.targets:
                            self.failures.append((node.log_path.stem, f"{type(exc).__name__}: {exc}"))
                await asyncio.sleep(0.2)


def _settled(a: NodeProcess, b: NodeProcess) -> dict | None:
    ready = {"a": readiness(a), "b": readiness(b)}
    if any(r.get("status") != 200 for r in ready.values()):
        return None
    roles = {name: r["role"] for name, r in ready.items()}
    return roles if sorted(roles.values()) == ["follower", "leader"] else None


async def stream_ids(js, stream: str) -> list[str]:
    """``Nats-Msg-Id`` of every message in the stream."""
    last = (await js.stream_info(stream)).state.last_seq
    sub = await js.subscribe(">", stream=stream, ordered_consumer=True,
                             config=api.ConsumerConfig(deliver_policy=api.DeliverPolicy.ALL))
    ids = []
    try:
        while True:
            msg = await sub.next_msg(timeout=10)
            ids.append((msg.headers or {}).get("Nats-Msg-Id", ""))
            if msg.metadata.sequence.stream >= last:
                return ids
    finally:
        await sub.unsubscribe()


async def test_leader_node_then_nats_server_killed_nothing_lost_or_double_counted(tmp_path, sf_settings):
    async with running_cluster(tmp_path / "nats") as servers:
        url = ",".join(s.url for s in servers)
        nc = Client()
        await nc.connect(servers=[s.url for s in servers], max_reconnect_attempts=-1, reconnect_time_wait=0.25,
                         error_cb=quiet)
        js = nc.jetstream(timeout=5)
        traffic = Traffic(js, EventGen(now=time.time(), seed=21, drivers=120, riders=200))
        quotes = Quotes()
        nodes: list[NodeProcess] = []
        tasks: list[asyncio.Task] = []
        try:
            a = start_node(tmp_path, url, "a")
            nodes.append(a)
            await a.wait_ready_async(timeout=60)
            b = start_node(tmp_path, url, "b")
            nodes.append(b)
            await b.wait_ready_async(timeout=60)
            assert (readiness(a)["role"], readiness(b)["role"]) == ("leader", "follower")
            for stream in (NAMES.location_stream, f"KV_{NAMES.nodes_bucket}", f"KV_{NAMES.state_bucket}"):
                assert (await js.stream_info(stream)).config.num_replicas == 3

            quotes.targets = [a, b]
            tasks = [asyncio.create_task(traffic.run()), asyncio.create_task(quotes.run())]
            await until(lambda: metric(a, "eq_checkpoint_seq") > 0, 20, "a's first checkpoint with events")
            await asyncio.sleep(1.0)

            # 1. the leader node dies
            quotes.targets = [b]
            killed_at = time.time()
            a.kill()
            await until(lambda: readiness(b).get("role") == "leader", 4 * TTL_S + 10, "b to take over")
            msg = await js.get_msg(f"KV_{NAMES.nodes_bucket}", subject=f"$KV.{NAMES.nodes_bucket}.{LEASE_KEY}",
                                   direct=True)
            lease = json.loads(msg.data)
            assert LeaseRecord(**lease).node_id == "b"
            takeover_s = lease["acquired_at"] - killed_at
            assert takeover_s <= TTL_S + 2.0, takeover_s
            await until(lambda: readiness(b).get("status") == 200, 30, "b ready as the leader")
            log = [json.loads(x) for x in b.log().splitlines() if x.startswith("{")]
            acquired = next(i for i, x in enumerate(log) if x.get("event") == "lease_acquired")
            loaded = next(x for x in log[acquired:] if x.get("event") in ("checkpoint_loaded", "checkpoint_none"))
            assert loaded["event"] == "checkpoint_loaded" and loaded["seq"] > 0
            started = next(x for x in log[acquired:] if x.get("event") == "intake_started")
            assert started["start_seq"] == loaded["seq"] + 1  # replays from the checkpoint's sequence
            await asyncio.sleep(1.5)

            # 2. a NATS server dies: the one leading the location stream
            leader_name = (await js.stream_info(NAMES.location_stream)).cluster.leader
            victim = next(s for s in servers if s.name == leader_name)
            victim.kill()
            await asyncio.sleep(4.0)
            await until(lambda: readiness(b).get("status") == 200, 30, "b ready after the NATS failure")

            # 3. the old node comes back and joins; a NATS failure may have moved the lease meanwhile (the nodes
            #    bucket re-elects its stream leader), so either may lead now, but exactly one does
            a = start_node(tmp_path, url, "a", run=2)
            nodes.append(a)
            await a.wait_ready_async(timeout=60)
            quotes.targets = [a, b]
            roles = await until(lambda: _settled(a, b), 30, "one leader and one follower, both ready", nodes=(a, b))
            await asyncio.sleep(1.0)
        finally:
            traffic.stopping = quotes.stopping = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.gather(*tasks), 60)
        try:
            head = (await js.stream_info(NAMES.location_stream)).state.last_seq
            for node in (a, b):
                await until(lambda n=node: metric(n, "eq_stream_applied_seq") >= head, 30, "the nodes to catch up")
                await until(lambda n=node: readiness(n).get("status") == 200, 30, "ready")
            at = time.time()
            bodies = [node.get(f"/api/v1/market/cells?bounds={BOUNDS}&at={at}", headers=AUTH) for node in (a, b)]
            assert all(status == 200 for status, _ in bodies), bodies
            leader, follower = (a, b) if roles["a"] == "leader" else (b, a)
            follower.kill()
            assert leader.terminate() == 0  # the leader stops: final checkpoint, lease released
        finally:
            for node in nodes:
                node.kill()

        # quotes answered all along, from whichever nodes were alive (degraded at worst)
        assert not quotes.failures, quotes.failures[:5]
        assert len([x for x in quotes.answers if x[0] == "b1"]) > 20
        # every acknowledged event is in the stream once (retries were dropped as duplicates)
        ids = await stream_ids(js, NAMES.location_stream)
        assert len(ids) == head
        counted = {i: 0 for i in traffic.acked}
        for i in ids:
            if i in counted:
                counted[i] += 1
        assert set(counted.values()) == {1}, [i for i, n in counted.items() if n != 1][:5]
        assert len(traffic.acked) > 500
        # ... and counted once: both nodes' market at one instant equals a reference fed without interruption
        reference, _ = await reference_state(nc, js, sf_settings, until_seq=head, timeout_s=60)
        reference.advance(at)
        expected = cells_from_state(reference, tuple(sf_settings.fares))
        for _status, body in bodies:
            assert body["applied_seq"] == head
            assert cells_from_api(body) == expected
        # the final checkpoint holds exactly that state, with the audit of each message applied once
        found = await CheckpointStore(await js.key_value(NAMES.state_bucket)).load()
        assert found is not None and found[1].node_id == leader.env["EQ_NODE_ID"]
        restored = MarketState(sf_settings.market)
        restored.restore(decode(found[0]))
        assert restored.applied_seq == head
        assert restored.audit["messages"] == head and restored.audit["seq_sum"] == head * (head + 1) // 2
        end = max(restored.clock, reference.clock) + 1.0
        restored.advance(end)
        reference.advance(end)
        assert restored.canonical() == reference.canonical()
        print(f"\ntakeover {takeover_s:.2f} s after the kill (lease {TTL_S} s); {len(traffic.acked)} events "
              f"acknowledged ({traffic.retries} resends); {len(quotes.answers)} quotes, "
              f"{sum(1 for x in quotes.answers if x[2])} degraded; leader at the end: {leader.env['EQ_NODE_ID']}")
        await nc.close()

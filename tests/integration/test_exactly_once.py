"""Exactly-once under SIGKILL: a node killed mid-batch, mid-checkpoint, after a manifest, after a DLQ copy and at
random moments, restarted each time, ends with exactly the state of a run that never died.

The node runs as a real process against a real nats-server (which survives the kills, as a cluster would).
Faults are injected with ``EQUILIBRIUM_FAULT`` (the node SIGKILLs itself at that point); random kills come
from the test. The reference is a fresh state fed by the same intake code from sequence 1, uninterrupted.
Both are compared at one instant through the API (``at=``) and, field by field, through the node's final
checkpoint.
"""

from __future__ import annotations

import asyncio
import random
import signal
import time

import pytest
from nats.aio.client import Client

from equilibrium_node.bus.names import RegionNames
from equilibrium_node.bus.provision import provision
from equilibrium_node.market.checkpoint import CheckpointStore
from equilibrium_node.market.snapshot import decode
from equilibrium_node.market.state import MarketState
from tests.support.market import EventGen, publish, reference_state
from tests.support.nodeproc import TEST_ADMIN_TOKEN, NodeProcess, node_env
from tests.support.ports import free_port

NAMES = RegionNames("sf")
BOUNDS = "37.5,-122.7,38.0,-122.2"
AUTH = {"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}

pytestmark = pytest.mark.slow  # 5-10 s: ten node processes started and killed, on purpose


class Cluster:
    """The test's NATS plus node processes started one after the other on the same data."""

    def __init__(self, tmp_path, url: str) -> None:
        self.tmp_path = tmp_path
        self.url = url
        self.port = free_port()
        self.runs = 0
        self.nodes: list[NodeProcess] = []

    def node(self, fault: str = "") -> NodeProcess:
        self.runs += 1
        # a short lease: each new process waits out the lease of the one killed before it (it is the leader
        # only then, and only the leader checkpoints); until then it tails the stream as a follower
        env = node_env(self.tmp_path / "data", self.port, EQ_NATS_URL=self.url,
                       EQ_MARKET_CHECKPOINT_INTERVAL_S="0.3", EQ_MARKET_CHECKPOINT_CHUNK_BYTES="1024",
                       EQ_MARKET_BATCH_MAX="40", EQ_CLUSTER_LEASE_TTL_S="1", EQ_CLUSTER_HEARTBEAT_S="0.3")
        if fault:
            env["EQUILIBRIUM_FAULT"] = fault
        node = NodeProcess(self.tmp_path, env=env, http_port=self.port, name=f"node{self.runs}").start()
        self.nodes.append(node)
        return node

    def kill_all(self) -> None:
        for node in self.nodes:
            node.kill()


def applied_seq(node: NodeProcess) -> int:
    status, text = node.get("/metrics")
    assert status == 200
    for line in text.splitlines():
        if line.startswith("eq_stream_applied_seq "):
            return int(float(line.split()[1]))
    return 0


async def wait_for(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def wait_killed_by_fault(node: NodeProcess, timeout_s: float = 30.0) -> None:
    assert node.proc is not None
    await wait_for(lambda: node.proc.poll() is not None, timeout_s, "the fault to kill the node")
    assert node.proc.returncode == -signal.SIGKILL, node.log()[-3000:]


def cells_from_api(body: dict) -> dict:
    return {c["cell"]: {vt: (c["supply"][vt], c["on_trip"][vt], c["demand_1m"][vt], c["demand_5m"][vt])
                        for vt in c["supply"]} for c in body["cells"]}


def cells_from_state(state: MarketState, vehicle_types: tuple[str, ...]) -> dict:
    out = {}
    for cell in state.table.cells:
        detail = state.cell_detail(cell)
        out[cell] = {vt: tuple(detail[vt]) if vt in detail else (0, 0, 0.0, 0.0) for vt in vehicle_types}
    return out


def phase(gen: EventGen, n: int, rng: random.Random) -> list:
    events = []
    for i in range(n):
        if i % 20 == 19:
            events.append(gen.bad(rng.choice(["not_json", "out_of_range", "unknown_vehicle_type", "missing_field"])))
        else:
            events.append(gen.good())
    # a publisher retrying some of them with the same Nats-Msg-Id: the stream drops the copies
    return events + rng.sample(events, n // 10)


async def test_sigkill_anywhere_neither_loses_nor_double_counts(tmp_path, nats_server, sf_settings):
    rng = random.Random(20261125)
    gen = EventGen(now=time.time(), seed=9, drivers=150, riders=200)
    nc = Client()
    await nc.connect(nats_server.url)
    js = nc.jetstream()
    await provision(js, sf_settings)
    cluster = Cluster(tmp_path, nats_server.url)
    published = []

    async def send(events):
        await publish(js, events)
        published.extend(e for e in events if e.msg_id)

    try:
        # 1. a backlog, then a node that dies in the middle of its 5th batch
        await send(phase(gen, 600, rng))
        await wait_killed_by_fault(cluster.node("batch:5"))
        # 2. the next one dies in the middle of writing its first checkpoint (after chunk 3)
        await wait_killed_by_fault(cluster.node("checkpoint_chunk:3"))
        # 3. one that dies right after storing rejects in the DLQ, before applying that batch
        await send(phase(gen, 300, rng))
        await wait_killed_by_fault(cluster.node("dlq:2"))
        # 4. one that dies just after its second complete manifest (new events keep it checkpointing)
        node = cluster.node("checkpoint_manifest:2")
        await node.wait_ready_async()
        deadline = time.monotonic() + 30
        while node.proc.poll() is None and time.monotonic() < deadline:
            await send(phase(gen, 40, rng))
            await asyncio.sleep(0.4)
        await wait_killed_by_fault(node)
        # 5. random SIGKILLs while events keep arriving
        for _ in range(3):
            node = cluster.node()
            await node.wait_ready_async()
            sending = asyncio.create_task(send(phase(gen, 250, rng)))
            await asyncio.sleep(rng.uniform(0.05, 0.6))
            node.kill()
            await sending
        # 6. a last node that catches up and stays
        node = cluster.node()
        await node.wait_ready_async()
        await wait_for(lambda: node.get("/readyz")[1].get("role") == "leader", 20, "the last node to lead")
        await send(phase(gen, 200, rng))
        last = (await js.stream_info(NAMES.location_stream)).state.last_seq
        await wait_for(lambda: applied_seq(node) >= last, 20, "the last node to catch up")
        at = time.time()
        status, body = node.get(f"/api/v1/market/cells?bounds={BOUNDS}&at={at}", headers=AUTH)
        assert status == 200, body
        assert body["applied_seq"] == last
        assert node.terminate() == 0  # SIGTERM: final checkpoint
    finally:
        cluster.kill_all()

    vehicle_types = tuple(sf_settings.fares)
    reference, _ = await reference_state(nc, js, sf_settings)
    assert reference.applied_seq == last
    reference.advance(at)
    assert cells_from_api(body) == cells_from_state(reference, vehicle_types)
    assert len(body["cells"]) > 20

    # the final checkpoint holds exactly the never-interrupted state
    found = await CheckpointStore(await js.key_value(NAMES.state_bucket)).load()
    assert found is not None
    restored = MarketState(sf_settings.market)
    restored.restore(decode(found[0]))
    assert restored.applied_seq == last
    end = max(restored.clock, reference.clock) + 1.0
    restored.advance(end)
    reference.advance(end)
    assert restored.canonical() == reference.canonical()
    # the audit counters travel with the state: each stream message applied exactly once
    assert restored.audit["messages"] == last
    assert restored.audit["seq_sum"] == last * (last + 1) // 2
    assert restored.audit["pings"] + restored.audit["signals"] > 0

    # every published event is in the stream once, every reject in the DLQ once
    unique = {e.msg_id for e in published}
    assert last == len(unique)
    bad = {e.msg_id for e in published if e.bad_reason}
    assert (await js.stream_info(NAMES.dlq_stream)).state.messages == len(bad)
    await nc.close()

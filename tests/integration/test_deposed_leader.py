"""The classic fencing case with real processes: the leader freezes (SIGSTOP: a long GC pause, a VM stall)
for longer than its lease, a follower takes over, the old leader wakes up (SIGCONT). It must notice, become a
follower, and never write again: every price, audit record and checkpoint stored from then on carries the new
leader's term (the fencing token), and the new leader's checkpoints stay intact."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import msgspec
import pytest
from nats.js import api

from equilibrium_node.bus.names import RegionNames
from equilibrium_node.market.checkpoint import CheckpointStore, Manifest
from equilibrium_node.messages import TERM_HEADER
from tests.support.market import EventGen, publish
from tests.support.nodeproc import NodeProcess, node_env
from tests.support.ports import free_port

NAMES = RegionNames("sf")
TTL_S = 2.0

pytestmark = pytest.mark.slow  # ~15 s: two node processes, one frozen past its lease


def start_node(tmp_path, url: str, name: str) -> NodeProcess:
    port = free_port()
    env = node_env(tmp_path / f"{name}-data", port, EQ_NATS_URL=url, EQ_NODE_ID=name,
                   EQ_CLUSTER_LEASE_TTL_S=str(TTL_S), EQ_CLUSTER_HEARTBEAT_S="0.5", EQ_PRICING_TICK_S="0.2",
                   EQ_MARKET_CHECKPOINT_INTERVAL_S="0.3")
    return NodeProcess(tmp_path, env=env, http_port=port, name=name).start()


def readiness(node: NodeProcess) -> dict:
    try:
        return node.get("/readyz", timeout=2.0)[1]  # type: ignore[return-value]
    except OSError:
        return {}


async def until(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not await asyncio.to_thread(predicate):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def stored_since(js, stream: str, first_seq: int) -> list:
    """Every message stored in ``stream`` from ``first_seq`` on (with headers)."""
    last = (await js.stream_info(stream)).state.last_seq
    if last < first_seq:
        return []
    sub = await js.subscribe(">", stream=stream, ordered_consumer=True,
                             config=api.ConsumerConfig(deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
                                                       opt_start_seq=first_seq))
    out = []
    try:
        while True:
            msg = await sub.next_msg(timeout=5)
            out.append(msg)
            if msg.metadata.sequence.stream >= last:
                return out
    finally:
        await sub.unsubscribe()


async def test_a_frozen_leader_that_wakes_up_never_writes_again(tmp_path, nats_server, nats_client):
    _, js = nats_client
    a = start_node(tmp_path, nats_server.url, "a")
    b = None
    try:
        await a.wait_ready_async()
        assert readiness(a)["role"] == "leader"
        b = start_node(tmp_path, nats_server.url, "b")
        await b.wait_ready_async()
        assert readiness(b)["role"] == "follower"
        term_a = readiness(a)["leader_term"]
        gen = EventGen(now=time.time(), seed=11, drivers=60, riders=120)
        await publish(js, [gen.good() for _ in range(400)])
        await until(lambda: "eq_surge_updates_total 0\n" not in a.get("/metrics")[1], 15, "a to price")

        assert a.proc is not None
        os.kill(a.proc.pid, signal.SIGSTOP)
        try:
            await until(lambda: readiness(b).get("role") == "leader", 3 * TTL_S + 10, "b to take over")
            term_b = readiness(b)["leader_term"]
            assert term_b > term_a
            await publish(js, [gen.good() for _ in range(200)])
            state_kv = await js.key_value(NAMES.state_bucket)

            async def b_checkpointed() -> bool:
                found = await CheckpointStore(state_kv).load()
                return found is not None and found[1].term == term_b

            deadline = time.monotonic() + 15
            while not await b_checkpointed():
                assert time.monotonic() < deadline, "b never checkpointed"
                await asyncio.sleep(0.1)
        finally:
            os.kill(a.proc.pid, signal.SIGCONT)

        # a wakes up with timers long overdue: its fence is closed by its own clock, its renewal finds b
        await until(lambda: readiness(a).get("role") == "follower", 10, "a to step down")
        await until(lambda: readiness(a).get("leader_id") == "b", 5, "a to see b lead")
        assert readiness(b)["role"] == "leader"
        marks = {s: (await js.stream_info(s)).state.last_seq + 1
                 for s in (f"KV_{NAMES.surge_bucket}", NAMES.audit_stream, f"KV_{NAMES.state_bucket}")}
        await publish(js, [gen.good() for _ in range(300)])
        head = (await js.stream_info(NAMES.location_stream)).state.last_seq
        await until(lambda: b.get("/metrics")[1].count(f"eq_stream_applied_seq {head}\n") == 1, 15, "b to apply")
        await until(lambda: a.get("/metrics")[1].count(f"eq_stream_applied_seq {head}\n") == 1, 15, "a to tail")
        await asyncio.sleep(1.0)  # more ticks and checkpoints of b, and a's chance to misbehave

        surge = await stored_since(js, f"KV_{NAMES.surge_bucket}", marks[f"KV_{NAMES.surge_bucket}"])
        audit = await stored_since(js, NAMES.audit_stream, marks[NAMES.audit_stream])
        assert surge  # b kept pricing (audit records come only with changed multipliers: maybe none here)
        assert {m.headers.get(TERM_HEADER) for m in surge + audit} == {str(term_b)}
        state = await stored_since(js, f"KV_{NAMES.state_bucket}", marks[f"KV_{NAMES.state_bucket}"])
        manifests = [msgspec.json.decode(m.data, type=Manifest) for m in state
                     if m.subject.endswith(".manifest") and m.data]
        assert manifests and {(m.node_id, m.term) for m in manifests} == {("b", term_b)}
        found = await CheckpointStore(await js.key_value(NAMES.state_bucket)).load()
        assert found is not None and found[1].node_id == "b" and found[1].seq == head
        # the frozen node still serves reads as a follower, from the same prices
        status, body = a.get("/api/v1/pricing/heatmap?bounds=37.7,-122.5,37.85,-122.35&zoom=12")
        assert status == 200 and body["cells"]
    finally:
        a.kill()
        if b is not None:
            b.kill()

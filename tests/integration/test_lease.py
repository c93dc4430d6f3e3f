"""The leader lease on a real nats-server, through the exact path the node uses (nats-py 2.16 has KV bugs
around expiry markers, so every step is checked here): acquire, contention, renew, expiry, release,
a bucket with limit markers, a lost answer, and the fence on the node's writes."""

from __future__ import annotations

import asyncio
import time

import msgspec
import pytest
from nats.js import api

from equilibrium_node.__main__ import BUNDLED_CONFIG
from equilibrium_node.bus.names import RegionNames
from equilibrium_node.bus.provision import provision
from equilibrium_node.cluster.lease import LEASE_KEY, LeaderLease
from equilibrium_node.errors import NotLeaderError
from equilibrium_node.messages import TERM_HEADER
from equilibrium_node.publish.writer import LeaderWriter, Outgoing
from equilibrium_node.settings import load_settings

TTL_S = 2.0
NAMES = RegionNames("sf")


class Clock:
    """A monotonic clock the test can move forward (the lease's local validity, without waiting)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


async def provisioned(js) -> None:
    await provision(js, load_settings(BUNDLED_CONFIG, env={"EQ_CLUSTER_LEASE_TTL_S": str(TTL_S),
                                                           "EQ_CLUSTER_HEARTBEAT_S": "0.5"}))


def lease(js, node_id: str, **kw) -> LeaderLease:
    return LeaderLease(js, NAMES, node_id, ttl_s=TTL_S, timeout_s=2.0, http=lambda: f"http://{node_id}:1", **kw)


async def until_free(candidate: LeaderLease, timeout_s: float = 10.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = await candidate.read()
        if state.free:
            return state
        await asyncio.sleep(0.05)
    raise AssertionError("the lease never became free")


async def test_one_winner_renewal_expiry_and_release(nats_client):
    _, js = nats_client
    await provisioned(js)
    a, b, c = lease(js, "a"), lease(js, "b"), lease(js, "c")

    # a fresh bucket: free; three candidates race with the same read, exactly one wins
    state = await a.read()
    assert state.free and state.revision == 0
    won = await asyncio.gather(*(x.acquire(state) for x in (a, b, c)))
    assert sorted(won) == [False, False, True]
    leader = (a, b, c)[won.index(True)]
    assert leader.held and leader.term > 0
    held = await b.read()
    assert not held.free and held.record.node_id == leader.node_id and held.term == leader.term

    # renewals write the term into the record; the revision moves, the term does not
    assert await leader.renew()
    again = await b.read()
    assert again.revision > held.revision and again.record.term == leader.term == again.term
    assert again.record.http == f"http://{leader.node_id}:1" and again.record.renewed_at >= again.record.acquired_at
    loser = next(x for x in (a, b, c) if x is not leader)
    assert not await loser.acquire(again)  # held: nobody else gets it

    # the leader stops renewing (killed): the key expires with the bucket's max age, another node takes it
    # with a larger term (stream sequences only grow)
    free = await until_free(loser)
    assert free.revision == 0  # no marker, no tombstone: the message is gone
    assert await loser.acquire(free)
    assert loser.term > leader.term
    # the old leader's renewal finds another holder: lost, and its fence is closed at once
    assert not await leader.renew()
    assert not leader.held and leader.term == 0
    with pytest.raises(NotLeaderError):
        leader.check()

    # a release is a tombstone: free at once for the next reader, and taken over its revision
    await loser.release()
    assert not loser.held
    released = await leader.read()
    assert released.free and released.revision > 0
    assert await leader.acquire(released)
    assert leader.term > released.revision


async def test_a_bucket_with_limit_markers_still_hands_over(nats_client):
    """Should someone enable limit markers on the nodes bucket: the expiry marker reads as free (nats-py's
    kv.create would raise until the marker itself expired)."""
    _, js = nats_client
    await provisioned(js)
    info = await js.stream_info(f"KV_{NAMES.nodes_bucket}")
    config = info.config
    config.subject_delete_marker_ttl = 1.0
    await js.update_stream(config)
    first, second = lease(js, "first"), lease(js, "second")
    assert await first.acquire(await first.read())
    free = await until_free(second)
    assert free.revision > 0  # the marker's sequence, which the compare-and-set must name
    assert await second.acquire(free)
    assert (await first.read()).record.node_id == "second"


async def test_an_acquire_whose_answer_was_lost_is_adopted(nats_client):
    """A node's acquiring write was stored but its answer never came back: the record is its own (same
    process instance), so it takes the lease over that revision instead of waiting for the expiry."""
    _, js = nats_client
    await provisioned(js)
    node = lease(js, "node")
    subject = f"$KV.{NAMES.nodes_bucket}.{LEASE_KEY}"
    record = {"node_id": "node", "term": 0, "instance": node.instance}
    await js.publish(subject, msgspec.json.encode(record), headers={"Nats-Expected-Last-Subject-Sequence": "0"})
    other = lease(js, "other")
    state = await other.read()
    assert not state.free and not await other.acquire(state)
    assert await node.acquire(await node.read())
    assert node.held


async def test_local_validity_ends_before_the_server_lets_anyone_else_in(nats_client):
    """The fence closes on this node's clock, before the key can expire on the server: a frozen process that
    wakes up after its lease ran out refuses to write without asking anyone."""
    _, js = nats_client
    await provisioned(js)
    clock = Clock()
    node = lease(js, "node", clock=clock)
    assert await node.acquire(await node.read())
    node.check()
    assert node.remaining_s() <= TTL_S - node.margin_s
    clock.offset = TTL_S - node.margin_s  # the process "slept" this long
    assert not node.held
    with pytest.raises(NotLeaderError):
        node.check()
    assert not (await lease(js, "other").read()).free  # the server still holds it for us at this point


async def test_the_leader_writer_is_fenced_and_stamps_the_term(nats_client):
    nc, js = nats_client
    await provisioned(js)
    clock = Clock()
    connected = [True]
    node = lease(js, "node", clock=clock, connected=lambda: connected[0])
    writer = LeaderWriter(nc, js)
    writer.fence, writer.headers = node.check, node.headers
    message = Outgoing(NAMES.audit_subject, b'{"x":1}', True)
    with pytest.raises(NotLeaderError):  # no lease: nothing is written
        await writer.write([message])
    assert await node.acquire(await node.read())
    report = await writer.write([message])
    assert report.stored == 1 and not report.failed
    stored = await js.get_msg(NAMES.audit_stream, subject=NAMES.audit_subject)
    assert stored.headers[TERM_HEADER] == str(node.term)
    connected[0] = False  # a write queued while disconnected could land after the lease: refused
    with pytest.raises(NotLeaderError):
        await writer.write([message])
    connected[0] = True
    clock.offset = TTL_S
    with pytest.raises(NotLeaderError):
        await writer.write([message])
    assert (await js.stream_info(NAMES.audit_stream)).state.messages == 1


async def test_provisioning_gives_the_nodes_bucket_the_lease_ttl_and_no_markers(nats_client):
    _, js = nats_client
    await provisioned(js)
    config = (await js.stream_info(f"KV_{NAMES.nodes_bucket}")).config
    assert config.max_age == pytest.approx(TTL_S) and config.max_msgs_per_subject == 1
    assert not config.subject_delete_marker_ttl
    assert config.allow_direct and config.discard == api.DiscardPolicy.NEW

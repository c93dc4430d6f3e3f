"""The intake against a real nats-server: 10% garbage to the DLQ with reasons, duplicate Msg-Ids dropped by the
stream, and a pull loop that survives a server restart without losing or repeating an event."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

from nats.aio.client import Client
from nats.js import api

from equilibrium_node.bus import embedded
from equilibrium_node.bus.embedded import EmbeddedNatsServer
from equilibrium_node.bus.names import RegionNames
from equilibrium_node.bus.provision import provision
from equilibrium_node.errors import NotLeaderError, Reject
from equilibrium_node.intake.service import Intake
from equilibrium_node.market.state import MarketState
from equilibrium_node.metrics import Metrics
from tests.support.market import EventGen, publish, reference_state

NAMES = RegionNames("sf")
REASONS = [Reject.NOT_JSON, Reject.MISSING_FIELD, Reject.BAD_TYPE, Reject.NOT_FINITE, Reject.OUT_OF_RANGE,
           Reject.UNKNOWN_STATUS, Reject.UNKNOWN_KIND, Reject.UNKNOWN_VEHICLE_TYPE, Reject.STRING_TOO_LONG,
           Reject.UNKNOWN_SUBJECT]


async def read_stream(js, stream: str, subject: str, count: int) -> list:
    sub = await js.pull_subscribe(subject, stream=stream)
    out = []
    while len(out) < count:
        out.extend(await sub.fetch(min(200, count - len(out)), timeout=5))
    await sub.unsubscribe()
    return out


async def test_ten_percent_garbage_goes_to_the_dlq_and_every_good_event_counts(nats_client, sf_settings):
    nc, js = nats_client
    await provision(js, sf_settings)
    gen = EventGen(now=time.time(), seed=3)
    events = []
    for i in range(1000):
        events.append(gen.bad(REASONS[(i // 10) % len(REASONS)]) if i % 10 == 9 else gen.good())
    await publish(js, events)
    bad = [e for e in events if e.bad_reason]
    good = [e for e in events if not e.bad_reason]
    assert len(bad) == 100

    state, metrics = await reference_state(nc, js, sf_settings)
    assert state.applied_seq == 1000
    text = metrics.render()
    expected = Counter(e.bad_reason for e in bad)
    assert len(expected) == len(REASONS)  # every reason is exercised
    for reason, n in expected.items():
        assert f'eq_events_rejected_total{{reason="{reason}"}} {n}' in text
    ingested = sum(c.value for c in metrics.events_ingested._children.values())
    dropped = sum(c.value for c in metrics.events_dropped._children.values())
    assert ingested + dropped == len(good)
    assert dropped == metrics.events_dropped.labels(reason="out_of_order").value  # no too-old in this stream
    drivers = {e.payload for e in good if e.subject == NAMES.driver_subject}
    assert len(state.supply.drivers) == len({__import__("json").loads(p)["driver_id"] for p in drivers})

    # every bad message is in the DLQ once, unchanged, with its reason and where it came from
    dlq = await read_stream(js, NAMES.dlq_stream, NAMES.dlq_subject, len(bad))
    info = await js.stream_info(NAMES.dlq_stream)
    assert info.state.messages == len(bad)
    by_id = {e.msg_id: e for e in bad}
    for msg in dlq:
        original = by_id[msg.headers["Eq-Original-Msg-Id"]]
        assert msg.data == original.payload
        assert msg.headers["Eq-Reject-Reason"] == original.bad_reason
        assert msg.headers["Eq-Source-Subject"] == original.subject
    assert {m.headers["Eq-Original-Msg-Id"] for m in dlq} == set(by_id)


async def test_duplicate_msg_ids_are_dropped_by_the_stream(nats_client, sf_settings):
    nc, js = nats_client
    await provision(js, sf_settings)
    gen = EventGen(now=time.time(), seed=4)
    events = [gen.good() for _ in range(300)]
    assert not any(await publish(js, events))
    again = await publish(js, events[100:250])  # a publisher retrying: same event ids
    assert all(again)
    info = await js.stream_info(NAMES.location_stream)
    assert info.state.messages == 300
    state, metrics = await reference_state(nc, js, sf_settings)
    total = sum(c.value for c in metrics.events_ingested._children.values()) + sum(
        c.value for c in metrics.events_dropped._children.values())
    assert total == 300 and state.applied_seq == 300


async def test_pull_loop_survives_a_server_restart(tmp_path, sf_settings, monkeypatch):
    store = tmp_path / "nats"
    server = EmbeddedNatsServer(store, port=0, name="eq-restart")
    url = await server.start()
    port = int(url.rsplit(":", 1)[1])
    nc = Client()
    await nc.connect(url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    js = nc.jetstream()
    await provision(js, sf_settings)
    gen = EventGen(now=time.time(), seed=5)
    first = [gen.good() for _ in range(400)]
    await publish(js, first)
    state = MarketState(sf_settings.market)
    metrics = Metrics()
    intake = Intake(nc, js, NAMES, state, sf_settings.market, sf_settings.cell_level, metrics,
                    vehicle_types=lambda: tuple(sf_settings.fares))
    await intake.prepare(1)
    task = asyncio.create_task(intake.run())
    try:
        async with asyncio.timeout(20):
            while state.applied_seq < 400:
                await asyncio.sleep(0.02)
        await server.stop()
        await asyncio.sleep(0.5)
        # the old server's sockets linger in TIME_WAIT; nats-server binds with SO_REUSEADDR anyway
        monkeypatch.setattr(embedded, "port_free", lambda host, port: True)
        server = EmbeddedNatsServer(store, port=port, name="eq-restart")
        await server.start()
        async with asyncio.timeout(20):
            while not nc.is_connected:
                await asyncio.sleep(0.05)
        second = [gen.good() for _ in range(400)]
        await publish(js, second)
        async with asyncio.timeout(30):
            while state.applied_seq < 800:
                await asyncio.sleep(0.05)
    finally:
        await intake.stop()
        await task
    assert intake.consumer is not None and intake.consumer.generations >= 2
    applied = sum(c.value for c in metrics.events_ingested._children.values()) + sum(
        c.value for c in metrics.events_dropped._children.values())
    assert applied == 800  # nothing lost, nothing twice
    assert state.audit["messages"] == 800 and state.audit["seq_sum"] == 800 * 801 // 2
    reference, _ = await reference_state(nc, js, sf_settings)
    end = max(reference.clock, state.clock)
    reference.advance(end)
    state.advance(end)
    assert reference.canonical() == state.canonical()
    await nc.close()
    await server.stop()


async def test_consumer_is_ephemeral_and_removed_on_stop(nats_client, sf_settings):
    nc, js = nats_client
    await provision(js, sf_settings)
    state = MarketState(sf_settings.market)
    intake = Intake(nc, js, NAMES, state, sf_settings.market, sf_settings.cell_level, Metrics(),
                    vehicle_types=lambda: tuple(sf_settings.fares))
    await intake.prepare(1)
    assert intake.loaded.is_set()  # empty stream: loaded at once
    infos = await js.consumers_info(NAMES.location_stream)
    assert len(infos) == 1 and infos[0].config.ack_policy == api.AckPolicy.NONE
    task = asyncio.create_task(intake.run())
    await intake.stop()
    await task
    assert await js.consumers_info(NAMES.location_stream) == []


async def test_state_loaded_once_caught_up_with_the_head_seen_at_start(nats_client, sf_settings):
    from equilibrium_node.status import NodeStatus

    nc, js = nats_client
    await provision(js, sf_settings)
    gen = EventGen(now=time.time(), seed=6)
    await publish(js, [gen.good() for _ in range(1500)])
    status = NodeStatus(region="sf", node_id="t", version="0")
    state = MarketState(sf_settings.market)
    intake = Intake(nc, js, NAMES, state, sf_settings.market, sf_settings.cell_level, Metrics(),
                    vehicle_types=lambda: tuple(sf_settings.fares), status=status)
    await intake.prepare(1)
    assert intake.head_at_start == 1500
    assert not intake.loaded.is_set() and not status.state_loaded and not state.caught_up
    task = asyncio.create_task(intake.run())
    try:
        await asyncio.wait_for(intake.loaded.wait(), 20)
        assert state.applied_seq >= 1500 and status.state_loaded
        async with asyncio.timeout(5):
            while not state.caught_up:
                await asyncio.sleep(0.02)
    finally:
        await intake.stop()
        await task


async def test_a_deleted_consumer_is_recreated_from_the_next_sequence(nats_client, sf_settings):
    nc, js = nats_client
    await provision(js, sf_settings)
    gen = EventGen(now=time.time(), seed=8)
    await publish(js, [gen.good() for _ in range(200)])
    state = MarketState(sf_settings.market)
    metrics = Metrics()
    intake = Intake(nc, js, NAMES, state, sf_settings.market, sf_settings.cell_level, metrics,
                    vehicle_types=lambda: tuple(sf_settings.fares))
    await intake.prepare(1)
    task = asyncio.create_task(intake.run())
    try:
        async with asyncio.timeout(10):
            while state.applied_seq < 200:
                await asyncio.sleep(0.02)
        (info,) = await js.consumers_info(NAMES.location_stream)
        await js.delete_consumer(NAMES.location_stream, info.name)  # an operator, or the server, removes it
        await publish(js, [gen.good() for _ in range(200)])
        async with asyncio.timeout(20):
            while state.applied_seq < 400:
                await asyncio.sleep(0.05)
    finally:
        await intake.stop()
        await task
    assert intake.consumer is not None and intake.consumer.generations >= 2
    assert state.audit["messages"] == 400 and state.audit["seq_sum"] == 400 * 401 // 2


async def test_a_read_only_follower_tails_from_any_sequence_without_writing(nats_client, sf_settings):
    nc, js = nats_client
    await provision(js, sf_settings)
    gen = EventGen(now=time.time(), seed=10)
    await publish(js, [gen.good() for _ in range(100)] + [gen.bad("not_json")] + [gen.good() for _ in range(99)])
    state = MarketState(sf_settings.market)
    metrics = Metrics()
    intake = Intake(nc, js, NAMES, state, sf_settings.market, sf_settings.cell_level, metrics,
                    vehicle_types=lambda: tuple(sf_settings.fares), publish_rejects=False)
    await intake.prepare(51)  # tail from the middle
    task = asyncio.create_task(intake.run())
    try:
        async with asyncio.timeout(10):
            while state.applied_seq < 200:
                await asyncio.sleep(0.02)
    finally:
        await intake.stop()
        await task
    assert state.audit["messages"] == 150 and state.audit["seq_sum"] == sum(range(51, 201))
    assert metrics.events_rejected.labels(reason=Reject.NOT_JSON).value == 1
    assert (await js.stream_info(NAMES.dlq_stream)).state.messages == 0


async def test_an_unreachable_dlq_does_not_stall_the_market(nats_client, sf_settings):
    nc, js = nats_client
    await provision(js, sf_settings)
    await js.delete_stream(NAMES.dlq_stream)  # an operator removed it
    gen = EventGen(now=time.time(), seed=12)
    await publish(js, [gen.good() for _ in range(50)] + [gen.bad("out_of_range") for _ in range(3)]
                  + [gen.good() for _ in range(50)])
    state = MarketState(sf_settings.market)
    metrics = Metrics()
    intake = Intake(nc, js, NAMES, state, sf_settings.market, sf_settings.cell_level, metrics,
                    vehicle_types=lambda: tuple(sf_settings.fares))
    intake.dlq.give_up_after_s = 0.3
    await intake.prepare(1)
    task = asyncio.create_task(intake.run())
    try:
        async with asyncio.timeout(10):
            while state.applied_seq < 103:
                await asyncio.sleep(0.02)
    finally:
        await intake.stop()
        await task
    assert metrics.dlq_lost.value == 3
    assert metrics.events_rejected.labels(reason=Reject.OUT_OF_RANGE).value == 3
    assert state.audit["messages"] == 103


async def test_a_fenced_intake_copies_no_reject_once_the_lease_is_gone(nats_client, sf_settings):
    """The leader's intake checks the lease before every DLQ copy: a deposed leader neither copies nor applies
    a batch with rejects (the next leader reads it again); batches without rejects need no write."""
    nc, js = nats_client
    await provision(js, sf_settings)
    gen = EventGen(now=time.time(), seed=12)
    await publish(js, [gen.good() for _ in range(50)])
    held = [True]

    def fence() -> None:
        if not held[0]:
            raise NotLeaderError("lease lost")

    state = MarketState(sf_settings.market)
    intake = Intake(nc, js, NAMES, state, sf_settings.market, sf_settings.cell_level, Metrics(),
                    vehicle_types=lambda: tuple(sf_settings.fares), fence=fence)
    await intake.prepare(1)
    task = asyncio.create_task(intake.run())
    try:
        async with asyncio.timeout(10):
            while state.applied_seq < 50:
                await asyncio.sleep(0.02)
        held[0] = False
        await publish(js, [gen.bad("not_json")] + [gen.good() for _ in range(10)])
        async with asyncio.timeout(10):
            await asyncio.shield(task)  # consumption ends on the fenced batch
    finally:
        await intake.stop()
        await task
    assert state.applied_seq == 50
    assert (await js.stream_info(NAMES.dlq_stream)).state.messages == 0

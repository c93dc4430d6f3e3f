"""Checkpoints in the real KV bucket: two slots, chunks then manifest, torn writes never loaded."""

from __future__ import annotations

import random

import pytest

from equilibrium_node.bus.names import RegionNames
from equilibrium_node.bus.provision import provision
from equilibrium_node.errors import NotLeaderError, WriteConflictError
from equilibrium_node.market import snapshot
from equilibrium_node.market.checkpoint import (
    Checkpointer,
    CheckpointStore,
    chunk_key,
    manifest_key,
    refuse_writes,
)
from equilibrium_node.market.state import MarketState
from equilibrium_node.metrics import Metrics


async def bucket(js, settings):
    await provision(js, settings)
    return await js.key_value(RegionNames(settings.region).state_bucket)


async def test_roundtrip_alternates_slots_and_cleans_up(nats_client, sf_settings):
    _, js = nats_client
    kv = await bucket(js, sf_settings)
    store = CheckpointStore(kv, chunk_bytes=1024)
    assert await store.load() is None
    big = random.Random(1).randbytes(10_000)
    m1 = await store.write(big, seq=10, clock=1.0)
    assert (m1.slot, m1.chunks) == ("a", 10)
    m2 = await store.write(b"small", seq=20, clock=2.0)
    assert (m2.slot, m2.chunks) == ("b", 1)
    m3 = await store.write(b"smaller", seq=30, clock=3.0)
    assert m3.slot == "a"
    keys = set(await kv.keys())
    assert keys == {manifest_key("a"), chunk_key("a", 0), manifest_key("b"), chunk_key("b", 0)}  # a shrank
    raw, manifest = await CheckpointStore(kv).load()
    assert (raw, manifest.seq) == (b"smaller", 30)


async def test_a_torn_slot_is_never_loaded(nats_client, sf_settings):
    _, js = nats_client
    kv = await bucket(js, sf_settings)
    store = CheckpointStore(kv, chunk_bytes=1024)
    good = random.Random(2).randbytes(3000)
    await store.write(good, seq=100, clock=1.0)  # slot a
    await store.write(random.Random(3).randbytes(3000), seq=200, clock=2.0)  # slot b, complete
    # a crash in the middle of the next write to slot a: manifest deleted, one chunk rewritten
    await kv.delete(manifest_key("a"))
    await kv.put(chunk_key("a", 0), b"x" * 1024)
    _, manifest = await CheckpointStore(kv).load()
    assert manifest.seq == 200
    # a chunk of the newest slot damaged behind the manifest's back: the other slot is used
    store = CheckpointStore(kv, chunk_bytes=1024)  # the process that crashed is gone: a new one writes
    await store.write(good, seq=300, clock=3.0)  # slot a again, complete
    await kv.put(chunk_key("a", 1), b"y" * 1024)
    _, manifest = await CheckpointStore(kv).load()
    assert manifest.seq == 200


async def test_checkpointer_restores_state_and_ignores_a_checkpoint_ahead_of_the_stream(nats_client, sf_settings):
    _, js = nats_client
    kv = await bucket(js, sf_settings)
    state = MarketState(sf_settings.market)
    state.apply_pings(["d1"], ["8085809c"], ["standard"], [0], [37.7], [-122.4], [1000.0], [999.0])
    state.apply_signals(["r1"], ["8085809c"], ["xl"], [2], [1000.5])
    state.commit_batch(42, 1000.5)
    checkpointer = Checkpointer(state, CheckpointStore(kv, chunk_bytes=1024), interval_s=60, metrics=Metrics())
    assert await checkpointer.checkpoint()
    assert not await checkpointer.checkpoint()  # nothing new: nothing written
    fresh = MarketState(sf_settings.market)
    loader = Checkpointer(fresh, CheckpointStore(kv), interval_s=60, metrics=Metrics())
    assert await loader.load(stream_last_seq=41) == 0  # the stream was recreated: sequences mean other events
    assert fresh.applied_seq == 0
    assert await loader.load(stream_last_seq=42) == 42
    assert fresh.canonical() == state.canonical()
    assert snapshot.decode(snapshot.encode(fresh.snapshot())).seq == 42


async def test_no_checkpoint_mode_for_followers(nats_client, sf_settings):
    _, js = nats_client
    kv = await bucket(js, sf_settings)
    state = MarketState(sf_settings.market)
    state.commit_batch(7, 1000.0)
    follower = Checkpointer(state, CheckpointStore(kv), interval_s=60, metrics=Metrics(), enabled=False)
    assert await follower.load() == 0
    assert not await follower.checkpoint(force=True)
    assert await CheckpointStore(kv).load() is None


async def test_a_stale_writer_cannot_overwrite_a_newer_checkpoint(nats_client, sf_settings):
    """Two leaders in turn: the deposed one's late writes fail on the server (compare-and-set), whatever
    it believes, and the newer checkpoint stays loadable."""
    _, js = nats_client
    kv = await bucket(js, sf_settings)
    old = CheckpointStore(kv, chunk_bytes=1024, node_id="old", term=lambda: 5)
    await old.write(random.Random(4).randbytes(2500), seq=10, clock=1.0)  # slot a
    await old.write(random.Random(5).randbytes(2500), seq=20, clock=2.0)  # slot b
    # the new leader loads (slot b is newest) and writes its own checkpoint into slot a
    new = CheckpointStore(kv, chunk_bytes=1024, node_id="new", term=lambda: 9)
    _raw, manifest = await new.load()
    assert manifest.seq == 20 and manifest.term == 5
    newer = random.Random(6).randbytes(2500)
    assert (await new.write(newer, seq=30, clock=3.0)).slot == "a"
    # the old leader wakes up and writes again: its next slot is a, whose keys it saw at other revisions
    with pytest.raises(WriteConflictError):
        await old.write(b"late" * 600, seq=25, clock=2.5)
    # it forgot what it knew, so a retry reads the keys again; here the fence of a deposed leader refuses it
    old.fence = refuse_writes
    with pytest.raises(NotLeaderError):
        await old.write(b"late" * 600, seq=25, clock=2.5)
    got = await CheckpointStore(kv).load()
    assert got is not None and got[0] == newer and got[1].seq == 30 and got[1].node_id == "new" and got[1].term == 9
    # the new leader carries on as if nothing happened
    assert (await new.write(b"next", seq=40, clock=4.0)).slot == "b"
    assert (await CheckpointStore(kv).load())[1].seq == 40


async def test_a_write_behind_the_store_s_back_is_a_conflict_then_retried(nats_client, sf_settings):
    _, js = nats_client
    kv = await bucket(js, sf_settings)
    store = CheckpointStore(kv, chunk_bytes=1024)
    await store.write(b"one", seq=1, clock=1.0)  # slot a
    await store.write(b"two", seq=2, clock=2.0)  # slot b
    await kv.put(chunk_key("a", 0), b"someone else")
    with pytest.raises(WriteConflictError):
        await store.write(b"three", seq=3, clock=3.0)
    # the conflict made it read the keys again: the next attempt succeeds
    assert (await store.write(b"three", seq=3, clock=3.0)).seq == 3
    assert (await CheckpointStore(kv).load())[0] == b"three"

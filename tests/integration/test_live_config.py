"""Live config through a real KV bucket: seeding, watching, rejecting bad values."""

from __future__ import annotations

import asyncio

import msgspec

from equilibrium_node.bus.names import RegionNames
from equilibrium_node.bus.provision import provision
from equilibrium_node.live_config import ConfigStore


async def _store(js, settings) -> ConfigStore:
    kv = await js.key_value(RegionNames(settings.region).config_bucket)
    store = ConfigStore(settings.region, settings.cell_level, settings, kv=kv)
    await store.seed()
    await store.start()
    return store


async def _until(predicate, timeout: float = 2.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


async def test_seed_applies_and_live_change_arrives(nats_client, sf_settings):
    _nc, js = nats_client
    await provision(js, sf_settings)
    store = await _store(js, sf_settings)
    runner = asyncio.create_task(store.run())
    try:
        assert store.current.rules.max_multiplier == sf_settings.rules.max_multiplier
        assert set(store.current.zones) == {z.id for z in sf_settings.zones}
        new_rules = msgspec.structs.replace(store.current.rules, max_multiplier=2.5)
        await store.put("rules", new_rules)
        await _until(lambda: store.current.rules.max_multiplier == 2.5)

        # garbage written straight to the bucket is rejected and the old rules stay
        await store.kv.put("rules", b'{"max_multiplier": "lots"}')
        await store.kv.put("fares.standard", b'{"base": 1.0, "per_km": 1.0, "per_min": 1.0, "minimum": 2.0}')
        await _until(lambda: store.current.fares["standard"].base == 1.0)
        assert store.current.rules.max_multiplier == 2.5
    finally:
        await store.stop()
        runner.cancel()


async def test_restart_does_not_overwrite_live_edits(nats_client, sf_settings):
    _nc, js = nats_client
    await provision(js, sf_settings)
    store = await _store(js, sf_settings)
    await store.put("rules", msgspec.structs.replace(store.current.rules, emergency_mode="freeze"))
    await store.stop()
    again = await _store(js, sf_settings)
    assert again.current.rules.emergency_mode == "freeze"
    await again.stop()

"""The pricing engine against a real nats-server: surge KV, subjects, audit stream, live config,
the cap rule's rollup, and the explain endpoint over real HTTP.

The market here is a plain in-memory object answering the MarketView protocol (set by the test), so
each assertion is about the pricing path and NATS; tests/integration/test_pricing_e2e.py drives the
real node through its input streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import urllib.error
import urllib.request
from zoneinfo import ZoneInfo

import msgspec
import pytest

from equilibrium_node.api.app import HttpServer, build_app
from equilibrium_node.api.explain import ExplainApi
from equilibrium_node.bus.names import RegionNames
from equilibrium_node.bus.provision import provision
from equilibrium_node.geo import cells
from equilibrium_node.live_config import ConfigStore
from equilibrium_node.messages import audit_record_decoder, surge_update_decoder
from equilibrium_node.metrics import Metrics
from equilibrium_node.pricing.core import PricingCore
from equilibrium_node.pricing.engine import PricingEngine
from equilibrium_node.pricing.registry import AlgorithmRegistry
from equilibrium_node.publish.history import ROLLUP_KEY, RollupStore
from equilibrium_node.publish.writer import LeaderWriter, Outgoing
from equilibrium_node.serving.surge_view import SurgeView
from equilibrium_node.status import NodeStatus
from tests.support.plain_market import PlainMarket
from tests.support.ports import free_port

FIDI = cells.cell_token(37.7946, -122.3950, 13)
TICK_S = 0.2


async def until(predicate, timeout: float = 5.0, every: float = 0.02):
    async with asyncio.timeout(timeout):
        while not (value := predicate()):
            await asyncio.sleep(every)
        return value


class Rig:
    """A pricing leader on a real NATS: config store, surge view, engine, over a plain market."""

    def __init__(self, nc, js, settings):
        self.nc, self.js, self.settings = nc, js, settings
        self.names = RegionNames(settings.region)
        self.market = PlainMarket(clock=time.time)
        self.tasks: list[asyncio.Task] = []

    async def __aenter__(self):
        s = self.settings
        await provision(self.js, s)
        self.registry = AlgorithmRegistry()
        self.store = ConfigStore(s.region, s.cell_level, s, kv=await self.js.key_value(self.names.config_bucket))
        self.registry.install(self.store)
        await self.store.seed()
        await self.store.start()
        self.tasks.append(asyncio.create_task(self.store.run()))
        rules = msgspec.structs.replace(self.store.current.rules, rise_confirm_s=0, fall_confirm_s=0,
                                        max_change_per_min=6000, time_of_day=[])
        await self.store.put("rules", rules)
        await until(lambda: self.store.current.rules.rise_confirm_s == 0)
        self.view = SurgeView(self.js, self.names.surge_bucket)
        await self.view.start()
        self.metrics = Metrics()
        self.status = NodeStatus(region=s.region, node_id="t", version="t")
        self.writer = LeaderWriter(self.nc, self.js, in_flight=s.pricing.publish_in_flight)
        self.core = PricingCore(s.region, s.timezone, s.pricing, self.registry)
        self.rollups = RollupStore(self.js, self.names, ZoneInfo(s.timezone))
        self.engine = PricingEngine(self.core, self.market, self.store, self.writer, self.names, metrics=self.metrics,
                                    status=self.status, tick_s=TICK_S, surge_view=self.view, rollups=self.rollups)
        self.tasks.append(asyncio.create_task(self.engine.run()))
        return self

    async def __aexit__(self, *exc):
        await self.engine.stop()
        await self.store.stop()
        await self.view.stop()
        for task in self.tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def served(self, cell=FIDI, vt="standard") -> float:
        entry = self.view.get(cell, vt)
        return entry.update.multiplier if entry else 1.0



@pytest.fixture
def fast_settings(sf_settings):
    pricing = msgspec.structs.replace(sf_settings.pricing, tick_s=TICK_S)
    return msgspec.structs.replace(sf_settings, pricing=pricing)


async def audit_records(js, names, n_min: int, timeout: float = 5.0):
    found = []
    async with asyncio.timeout(timeout):
        while len(found) < n_min:
            sub = await js.subscribe(names.audit_subject, ordered_consumer=True)
            found = []
            with contextlib.suppress(TimeoutError):
                while True:
                    msg = await sub.next_msg(timeout=0.3)
                    found.append((audit_record_decoder.decode(msg.data), msg.headers))
            await sub.unsubscribe()
    return found


async def test_spike_goes_to_kv_subject_and_audit(nats_client, fast_settings):
    nc, js = nats_client
    seen: list = []

    async def on_surge(msg) -> None:
        seen.append(surge_update_decoder.decode(msg.data))

    sub = await nc.subscribe(f"eq.{fast_settings.region}.surge.{FIDI}", cb=on_surge)
    async with Rig(nc, js, fast_settings) as rig:
        ticks_before = rig.metrics.ticks.value
        rig.market.set(FIDI, supply=2, demand=10)
        await until(lambda: rig.served() > 1.0)
        assert rig.metrics.ticks.value - ticks_before <= 3  # within two ticks of the change (plus the one running)
        await until(lambda: rig.served() == 3.4)
        # the KV entry under <cell>.<vehicle_type>, a contract surge update
        kv = await js.key_value(rig.names.surge_bucket)
        update = surge_update_decoder.decode((await kv.get(f"{FIDI}.standard")).value)
        assert (update.cell, update.zone_id, update.vehicle_type, update.algorithm) == (
            FIDI, "financial_district", "standard", "linear")
        assert update.demand_level == "very_high" and update.supply == 2 and update.demand == 10
        assert update.updated_at.endswith("Z") and update.rev > 0
        await until(lambda: any(u.multiplier == 3.4 for u in seen))
        # fall back
        rig.market.set(FIDI, supply=5, demand=0, demand_5m=0)
        await until(lambda: rig.served() == 1.0)
        records = [r for r, _ in await audit_records(js, rig.names, 2)
                   if r.cell == FIDI and r.vehicle_type == "standard"]
        assert [(r.old_multiplier, r.new_multiplier) for r in records] == [(1.0, 3.4), (3.4, 1.0)]
        assert records[0].trigger_reason == "rise:market" and records[1].trigger_reason.startswith("fall:")
        assert records[0].algorithm == "linear" and records[0].supply == 2 and records[0].demand == 10
        assert rig.metrics.surge_updates.value >= 2 and rig.metrics.audit_records.value >= 2
        assert rig.status.last_pricing_monotonic > 0
        assert "eq_tick_seconds_count" in rig.metrics.render()
    await sub.unsubscribe()


async def test_live_config_applies_within_two_seconds_and_bad_values_are_refused(nats_client, fast_settings):
    nc, js = nats_client
    async with Rig(nc, js, fast_settings) as rig:
        rig.market.set(FIDI, supply=1, demand=20)
        await until(lambda: rig.served() == 3.5)
        zone = rig.store.current.zones["financial_district"]
        started = time.monotonic()
        await rig.store.kv.put("zone.financial_district", msgspec.json.encode(
            msgspec.structs.replace(zone, max_multiplier=2.2)))
        await until(lambda: rig.served() == 2.2, timeout=2.0)
        applied_s = time.monotonic() - started
        assert applied_s < 2.0
        # written straight to the bucket, an unknown algorithm is rejected and the old config stays
        await rig.store.kv.put("zone.financial_district", msgspec.json.encode(
            msgspec.structs.replace(zone, algorithm="rocket", max_multiplier=1.5)))
        await rig.store.kv.put("rules", msgspec.json.encode(
            msgspec.structs.replace(rig.store.current.rules, max_multiplier=4.9)))
        await until(lambda: rig.store.current.rules.max_multiplier == 4.9)  # a later valid write lands
        assert rig.store.current.zones["financial_district"].algorithm == "linear"
        assert rig.store.current.zones["financial_district"].max_multiplier == 2.2
        await asyncio.sleep(3 * TICK_S)
        assert rig.served() == 2.2


async def test_rollup_is_saved_and_rebuilt_from_the_audit_stream(nats_client, fast_settings):
    nc, js = nats_client
    async with Rig(nc, js, fast_settings) as rig:
        rig.market.set(FIDI, supply=2, demand=10)
        await until(lambda: rig.served() == 3.4)
    # stop() saved it
    names = RegionNames(fast_settings.region)
    tz = ZoneInfo(fast_settings.timezone)
    store = RollupStore(js, names, tz)
    saved, source = await store.load(time.time())
    assert source == "kv" and max(saved.days["financial_district"].values()) == 3.4
    kv = await js.key_value(names.state_bucket)
    await kv.purge(ROLLUP_KEY)
    rebuilt, source = await store.load(time.time())
    assert source == "audit"
    assert rebuilt.days["financial_district"] == saved.days["financial_district"]


async def test_writer_pipelines_thousands_of_kv_entries_and_reports_failures(nats_client, fast_settings):
    nc, js = nats_client
    await provision(js, fast_settings)
    names = RegionNames(fast_settings.region)
    writer = LeaderWriter(nc, js, in_flight=256, ack_timeout_s=3.0)
    messages = [Outgoing(f"$KV.{names.surge_bucket}.c{i}.standard", b"{}", True) for i in range(3000)]
    report = await writer.write([*messages, Outgoing("no.stream.here", b"x", True, tag="lost")])
    assert report.stored == 3000
    assert [m.tag for m in report.failed] == ["lost"]
    info = await js.stream_info(f"KV_{names.surge_bucket}")
    assert info.state.messages == 3000
    # the fence refuses a whole batch
    writer.fence = lambda: (_ for _ in ()).throw(RuntimeError("not leader"))
    with pytest.raises(RuntimeError):
        await writer.write(messages[:1])


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


async def test_explain_over_http(nats_client, fast_settings):
    nc, js = nats_client
    async with Rig(nc, js, fast_settings) as rig:
        rig.market.set(FIDI, supply=2, demand=10)
        await until(lambda: rig.served() == 3.4)
        app = build_app([ExplainApi(rig.core, rig.market, rig.store, rig.view, fast_settings.cell_level)],
                        rig.metrics)
        server = HttpServer(app, "127.0.0.1", free_port())
        await server.start()
        base = f"http://127.0.0.1:{server.bound_port}/api/v1/pricing/explain"
        try:
            lat, lng = cells.center(FIDI)
            status, body = await asyncio.to_thread(_get, f"{base}?lat={lat}&lng={lng}&vehicle_type=standard")
            assert status == 200
            assert body["cell"] == FIDI and body["multiplier"] == 3.4
            assert body["served"]["multiplier"] == 3.4
            assert [s["step"] for s in body["guardrails"]][:2] == ["no_data", "time_of_day"]
            for query, field in (("lat=91&lng=0", "lat"), ("lat=10&lng=-181", "lng"), ("lng=0", "lat"),
                                 ("lat=x&lng=0", "lat"), ("lat=1&lng=1&vehicle_type=hovercraft", "vehicle_type")):
                status, body = await asyncio.to_thread(_get, f"{base}?{query}")
                assert status == 400, query
                assert body["error"]["field"] == field, query
            status, body = await asyncio.to_thread(_get, f"{base}?lat=1&lng=1&vehicle_type=hovercraft")
            assert body["error"]["code"] == "unknown_vehicle_type"
            status, doc = await asyncio.to_thread(_get, f"http://127.0.0.1:{server.bound_port}/api/v1/openapi.json")
            assert "/api/v1/pricing/explain" in doc["paths"]
        finally:
            await server.stop()

"""Provisioning against a real nats-server: create, idempotence, drift update, drift report."""

from __future__ import annotations

import msgspec
from nats.js import api

from equilibrium_node.bus.names import RegionNames
from equilibrium_node.bus.provision import desired_streams, provision


async def test_creates_everything_then_changes_nothing(nats_client, sf_settings):
    _nc, js = nats_client
    first = await provision(js, sf_settings)
    names = RegionNames("sf")
    expected = {*names.streams, *(f"KV_{b}" for b in names.buckets)}
    assert set(first.created) == expected
    second = await provision(js, sf_settings)
    assert not second.changed and set(second.unchanged) == expected and not second.drift
    info = await js.stream_info(names.location_stream)
    assert info.config.subjects == ["eq.sf.location.>"]
    assert info.config.duplicate_window == sf_settings.streams.duplicate_window_s
    assert info.config.num_replicas == 1
    kv = await js.key_value(names.surge_bucket)
    await kv.put("8085809c.standard", b"{}")
    assert (await kv.get("8085809c.standard")).value == b"{}"


async def test_drift_is_updated_where_allowed_and_reported_where_not(nats_client, sf_settings):
    _nc, js = nats_client
    await provision(js, sf_settings)
    changed = msgspec.structs.replace(
        sf_settings, streams=msgspec.structs.replace(sf_settings.streams, location_max_age_s=3600.0))
    report = await provision(js, changed)
    assert report.updated == {"EQ_LOC_SF": ["max_age"]}
    assert (await js.stream_info("EQ_LOC_SF")).config.max_age == 3600.0

    memory = msgspec.structs.replace(changed, streams=msgspec.structs.replace(changed.streams, storage="memory"))
    report = await provision(js, memory)
    assert "EQ_LOC_SF" in report.drift and "storage" in report.drift["EQ_LOC_SF"]
    storage = (await js.stream_info("EQ_LOC_SF")).config.storage
    assert storage in ("file", api.StorageType.FILE)


async def test_regions_do_not_share_streams(nats_client, sf_settings):
    _nc, js = nats_client
    other = msgspec.structs.replace(sf_settings, region="ny")
    await provision(js, sf_settings)
    report = await provision(js, other)
    assert all("NY" in n or "_ny_" in n for n in report.created)
    assert len(report.created) == len(desired_streams(other))

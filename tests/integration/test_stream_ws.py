"""The WebSocket heatmap stream against a real node: snapshot, deltas, ticks, viewports, status, resume."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import msgspec

from equilibrium_node.serving.heatmap import viewport_cells
from equilibrium_node.stream.batching import MIN_GAP_TICKS
from tests.support.streams import (
    SF_BOUNDS,
    SurgeWriter,
    cells_in,
    next_json,
    running_node,
    subscribe_msg,
    synced,
    ws_url,
)

OTHER = (37.70, -122.52, 37.72, -122.49)  # south-west SF, outside SF_BOUNDS


def _rest_cells(node, bounds, zoom, vehicle_type="standard") -> list[dict]:
    """What the REST heatmap draws for the same viewport from the same served entries."""
    updates = [e.update for e in node.surge_view.entries.values() if e.update.vehicle_type == vehicle_type]
    return msgspec.to_builtins(viewport_cells(updates, bounds, zoom, node.settings.cell_level))


async def test_snapshot_then_deltas_hold_only_changed_cells_in_view(nats_server, nats_client, tmp_path):
    _, js = nats_client
    inside, outside = cells_in(SF_BOUNDS), cells_in(OTHER)
    assert inside and outside and not set(inside) & set(outside)
    async with running_node(nats_server.url, tmp_path / "n") as node, aiohttp.ClientSession() as http:
        writer = await SurgeWriter.open(js)
        await writer.tick(dict.fromkeys(inside + outside, 1.0))
        await synced(await writer.tick({inside[3]: 1.4}, vehicle_type="xl"), node)
        async with http.ws_connect(ws_url(node)) as ws:
            first = json.loads((await ws.receive()).data)
            assert first == {"type": "status", "degraded": False}
            await ws.send_json(subscribe_msg(SF_BOUNDS, zoom=14))
            snap = await next_json(ws)
            assert snap["type"] == "snapshot" and snap["vehicle_type"] == "standard" and snap["level"] == 13
            assert snap["bounds"] == list(SF_BOUNDS) and snap["rev"] >= 1
            assert snap["cells"] == _rest_cells(node, SF_BOUNDS, 14)  # the same cells as the REST heatmap
            assert {c["cell"] for c in snap["cells"]} == set(inside)

            rev = await writer.put(inside[0], 2.0)
            await writer.put(outside[0], 3.0)
            delta = await next_json(ws)
            assert delta["type"] == "delta" and delta["rev"] >= rev and delta["removed"] == []
            assert [(c["cell"], c["surge_multiplier"], c["color"]) for c in delta["cells"]] == [
                (inside[0], 2.0, "#d73027")]
            assert delta["last_updated"] is not None

            await writer.put(inside[1], 1.0, vehicle_type="xl")  # another vehicle type: nothing for us
            await writer.delete(inside[2])
            delta = await next_json(ws)
            assert delta["cells"] == [] and delta["removed"] == [inside[2]]


async def test_zoomed_out_cells_are_aggregated_like_the_rest_heatmap(nats_server, nats_client, tmp_path):
    _, js = nats_client
    bounds = (37.70, -122.52, 37.82, -122.36)
    tokens = cells_in(bounds)
    async with running_node(nats_server.url, tmp_path / "n") as node, aiohttp.ClientSession() as http:
        writer = await SurgeWriter.open(js)
        await synced(await writer.tick({t: round(1.0 + (i % 7) * 0.2, 1) for i, t in enumerate(tokens)}), node)
        async with http.ws_connect(ws_url(node)) as ws:
            await ws.send_json(subscribe_msg(bounds, zoom=10))
            snap = await next_json(ws)
            assert snap["level"] == 11
            assert snap["cells"] == _rest_cells(node, bounds, 10)
            assert len(snap["cells"]) < len(tokens)  # parents, not pricing cells
            await writer.tick({tokens[5]: 4.0})
            delta = await next_json(ws)
            expected = {c["cell"]: c for c in _rest_cells(node, bounds, 10)}
            assert len(delta["cells"]) == 1
            parent = delta["cells"][0]
            assert parent == expected[parent["cell"]] and parent["surge_multiplier"] == 4.0


async def test_at_most_one_delta_per_tick_with_latest_values(nats_server, nats_client, tmp_path):
    _, js = nats_client
    tokens = cells_in(SF_BOUNDS)
    tick_s = 0.5
    async with running_node(nats_server.url, tmp_path / "n", EQ_PRICING_TICK_S=str(tick_s)) as node, \
            aiohttp.ClientSession() as http:
        writer = await SurgeWriter.open(js)
        await synced(await writer.tick(dict.fromkeys(tokens, 1.0)), node)
        async with http.ws_connect(ws_url(node)) as ws:
            await ws.send_json(subscribe_msg())
            await next_json(ws)
            started = time.monotonic()
            for i in range(12):  # a change every 50 ms for 0.6 s: several per tick
                await writer.put(tokens[i % 3], round(1.1 + i * 0.1, 1))
                await asyncio.sleep(0.05)
            deltas, received = [], []
            while True:
                try:
                    deltas.append(await next_json(ws, timeout=2 * tick_s))
                    received.append(time.monotonic())
                except TimeoutError:
                    break
            window = received[-1] - started
            assert 1 <= len(deltas) <= window / (tick_s * MIN_GAP_TICKS) + 1
            latest = {}
            for delta in deltas:
                latest.update({c["cell"]: c["surge_multiplier"] for c in delta["cells"]})
            assert latest == {tokens[0]: 2.0, tokens[1]: 2.1, tokens[2]: 2.2}


async def test_new_viewport_gets_a_fresh_snapshot_and_only_its_changes(nats_server, nats_client, tmp_path):
    _, js = nats_client
    inside, other = cells_in(SF_BOUNDS), cells_in(OTHER)
    async with running_node(nats_server.url, tmp_path / "n") as node, aiohttp.ClientSession() as http:
        writer = await SurgeWriter.open(js)
        await synced(await writer.tick(dict.fromkeys(inside + other, 1.2)), node)
        async with http.ws_connect(ws_url(node)) as ws:
            await ws.send_json(subscribe_msg(SF_BOUNDS))
            assert {c["cell"] for c in (await next_json(ws))["cells"]} == set(inside)
            await ws.send_json(subscribe_msg(OTHER, zoom=15, vehicle_type="standard"))
            snap = await next_json(ws)
            assert snap["type"] == "snapshot" and {c["cell"] for c in snap["cells"]} == set(other)
            await writer.put(inside[0], 2.5)  # the old viewport: nothing arrives
            await writer.put(other[0], 1.7)
            delta = await next_json(ws)
            assert [c["cell"] for c in delta["cells"]] == [other[0]]
            await ws.send_json({"type": "ping"})
            assert await next_json(ws) == {"type": "pong"}


async def test_status_message_when_degraded_flips(nats_server, tmp_path):
    async with running_node(nats_server.url, tmp_path / "n") as node, aiohttp.ClientSession() as http, \
            http.ws_connect(ws_url(node)) as ws:
        assert await next_json(ws, skip=()) == {"type": "status", "degraded": False}
        node.status.degraded = True
        assert await next_json(ws, skip=()) == {"type": "status", "degraded": True}
        node.status.degraded = False
        assert await next_json(ws, skip=()) == {"type": "status", "degraded": False}


async def test_resume_with_since(nats_server, nats_client, tmp_path):
    _, js = nats_client
    inside, other = cells_in(SF_BOUNDS), cells_in(OTHER)
    async with running_node(nats_server.url, tmp_path / "n") as node, aiohttp.ClientSession() as http:
        writer = await SurgeWriter.open(js)
        await synced(await writer.tick(dict.fromkeys(inside + other, 1.0)), node)
        async with http.ws_connect(ws_url(node)) as ws:
            await ws.send_json(subscribe_msg())
            seen = (await next_json(ws))["rev"]
        # offline for a while: three cells in view and one outside change
        await writer.tick({inside[0]: 1.5, inside[1]: 1.6, other[0]: 2.0})
        head = await synced(await writer.put(inside[2], 1.7), node)
        async with http.ws_connect(ws_url(node)) as ws:
            await ws.send_json(subscribe_msg(since=seen))
            resumed = await next_json(ws)
            assert resumed["type"] == "delta" and resumed["rev"] == head
            assert {c["cell"]: c["surge_multiplier"] for c in resumed["cells"]} == {
                inside[0]: 1.5, inside[1]: 1.6, inside[2]: 1.7}
            await ws.send_json(subscribe_msg(since=head))  # up to date: an empty delta
            assert (await next_json(ws))["cells"] == []
            await ws.send_json(subscribe_msg(since=head + 1000))  # from the future: a snapshot
            assert (await next_json(ws))["type"] == "snapshot"


async def test_resume_from_too_old_a_revision_gets_a_snapshot(nats_server, nats_client, tmp_path):
    _, js = nats_client
    inside = cells_in(SF_BOUNDS)
    async with running_node(nats_server.url, tmp_path / "n", EQ_PUSH_HISTORY_RING="5") as node, \
            aiohttp.ClientSession() as http:
        writer = await SurgeWriter.open(js)
        old = await synced(await writer.tick(dict.fromkeys(inside, 1.0)), node)
        for i, token in enumerate(inside[:8]):  # eight keys change: more than the ring keeps
            await writer.put(token, 1.1 + i * 0.1)
        recent = await writer.put(inside[8], 2.0)
        await synced(await writer.put(inside[9], 2.1), node)
        async with http.ws_connect(ws_url(node)) as ws:
            await ws.send_json(subscribe_msg(since=old))
            snap = await next_json(ws)
            assert snap["type"] == "snapshot" and len(snap["cells"]) == len(inside)
            await ws.send_json(subscribe_msg(since=recent))
            delta = await next_json(ws)
            assert delta["type"] == "delta" and [c["cell"] for c in delta["cells"]] == [inside[9]]


async def test_stream_metrics_and_openapi(nats_server, tmp_path):
    async with running_node(nats_server.url, tmp_path / "n") as node, aiohttp.ClientSession() as http:
        base = node.status.http_address
        async with http.ws_connect(ws_url(node)) as ws:
            await ws.send_json(subscribe_msg())
            await next_json(ws)
            async with http.get(base + "/metrics") as resp:
                text = await resp.text()
            assert 'eq_stream_clients{transport="ws"} 1' in text
            assert "eq_stream_messages_total 2" in text  # status + snapshot
        async with asyncio.timeout(5):
            while node.metrics.stream_clients.labels(transport="ws").value != 0:
                await asyncio.sleep(0.02)
        assert node.metrics.stream_disconnects.labels(reason="client").value == 1
        async with http.get(base + "/api/v1/openapi.json") as resp:
            doc = await resp.json()
        assert {"/api/v1/stream/heatmap/ws", "/api/v1/stream/heatmap/sse"} <= set(doc["paths"])

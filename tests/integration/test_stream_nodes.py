"""Streams on several nodes of a region (any node serves them from the KV watch) and at shutdown."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp

from tests.support.nodeproc import NodeProcess
from tests.support.streams import (
    SF_BOUNDS,
    SurgeWriter,
    cells_in,
    next_event,
    next_json,
    running_node,
    sse_events,
    subscribe_msg,
    synced,
    ws_url,
)

SSE_QUERY = "?bounds=" + ",".join(map(str, SF_BOUNDS)) + "&zoom=14"


async def test_every_node_streams_the_same_and_resume_works_across_nodes(nats_server, nats_client, tmp_path):
    _, js = nats_client
    inside = cells_in(SF_BOUNDS)
    async with running_node(nats_server.url, tmp_path / "a", EQ_NODE_ID="node-a") as a, \
            running_node(nats_server.url, tmp_path / "b", EQ_NODE_ID="node-b") as b, \
            aiohttp.ClientSession() as http:
        writer = await SurgeWriter.open(js)
        await synced(await writer.tick(dict.fromkeys(inside, 1.0)), a, b)
        async with http.ws_connect(ws_url(a)) as on_a, http.ws_connect(ws_url(b)) as on_b:
            for ws in (on_a, on_b):
                await ws.send_json(subscribe_msg())
            snaps = [await next_json(on_a), await next_json(on_b)]
            assert snaps[0]["cells"] == snaps[1]["cells"] and snaps[0]["rev"] == snaps[1]["rev"]
            rev = await writer.tick({inside[0]: 2.2, inside[1]: 1.1})
            for ws in (on_a, on_b):  # the same cells and revision from both (in one delta or two)
                seen, last = {}, 0
                while seen != {inside[0]: 2.2, inside[1]: 1.1}:
                    delta = await next_json(ws)
                    seen.update({c["cell"]: c["surge_multiplier"] for c in delta["cells"]})
                    last = delta["rev"]
                assert last == rev
        # an SSE client of node A loses it and reconnects to node B with its last id
        async with http.get(a.status.http_address + "/api/v1/stream/heatmap/sse" + SSE_QUERY) as resp:
            last_id = (await next_event(sse_events(resp)))["id"]
        await synced(await writer.put(inside[2], 3.0), b)
        async with http.get(b.status.http_address + "/api/v1/stream/heatmap/sse" + SSE_QUERY,
                            headers={"Last-Event-ID": last_id}) as resp:
            resumed = await next_event(sse_events(resp))
            assert resumed["event"] == "delta"
            assert [(c["cell"], c["surge_multiplier"]) for c in resumed["data"]["cells"]] == [(inside[2], 3.0)]


async def test_sigterm_closes_stream_clients_with_going_away(tmp_path):
    with NodeProcess(tmp_path) as node:
        await node.wait_ready_async()
        async with aiohttp.ClientSession() as http:
            ws = await http.ws_connect(node.base_url.replace("http", "ws") + "/api/v1/stream/heatmap/ws")
            await ws.send_json(subscribe_msg())
            assert (await next_json(ws))["type"] == "snapshot"
            sse = await http.get(node.base_url + "/api/v1/stream/heatmap/sse" + SSE_QUERY)
            events = sse_events(sse)
            assert (await next_event(events))["event"] == "snapshot"

            started = time.monotonic()
            assert node.proc is not None
            node.proc.terminate()
            async with asyncio.timeout(8):
                msg = await ws.receive()
                while msg.type is aiohttp.WSMsgType.TEXT:
                    msg = await ws.receive()
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED) and ws.close_code == 1001
            closing = await next_event(events, timeout=8)
            assert closing["event"] == "close" and closing["data"]["code"] == 1001
            rest = [e async for e in events]  # the response ends
            assert all("comment" in e for e in rest)
            code = await asyncio.to_thread(node.proc.wait, 15)
            assert code == 0 and time.monotonic() - started < 10, node.log()[-3000:]
            await ws.close()
            sse.close()
        lines = [json.loads(line) for line in node.log().splitlines() if line.startswith("{")]
        closed = [line for line in lines if line.get("event") == "streams_closed"]
        assert closed and closed[0]["clients"] == 2, node.log()[-3000:]

"""The SSE heatmap stream against a real node: events with revision ids, resume with Last-Event-ID, pings."""

from __future__ import annotations

import asyncio

import aiohttp

from tests.support.streams import SF_BOUNDS, SurgeWriter, cells_in, next_event, running_node, sse_events, synced

QUERY = "?bounds=" + ",".join(map(str, SF_BOUNDS)) + "&zoom=14"


def sse_url(node, query: str = QUERY) -> str:
    """The node's SSE stream URL."""
    return node.status.http_address + "/api/v1/stream/heatmap/sse" + query


async def test_events_carry_revisions_and_resume_sends_only_changes(nats_server, nats_client, tmp_path):
    _, js = nats_client
    inside = cells_in(SF_BOUNDS)
    async with running_node(nats_server.url, tmp_path / "n") as node, aiohttp.ClientSession() as http:
        writer = await SurgeWriter.open(js)
        await synced(await writer.tick(dict.fromkeys(inside, 1.0)), node)
        async with http.get(sse_url(node)) as resp:
            assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/event-stream")
            events = sse_events(resp)
            status = await next_event(events, skip=())
            assert status["event"] == "status" and status["data"] == {"type": "status", "degraded": False}
            assert "id" not in status
            snap = await next_event(events)
            assert snap["event"] == "snapshot" and int(snap["id"]) == snap["data"]["rev"]
            assert {c["cell"] for c in snap["data"]["cells"]} == set(inside)
            rev = await writer.put(inside[0], 1.9)
            delta = await next_event(events)
            assert delta["event"] == "delta" and int(delta["id"]) == rev
            assert [c["cell"] for c in delta["data"]["cells"]] == [inside[0]]
            last_id = delta["id"]

        # disconnected: changes happen; the browser reconnects with Last-Event-ID
        await synced(await writer.tick({inside[1]: 1.3, inside[2]: 1.4}), node)
        async with http.get(sse_url(node), headers={"Last-Event-ID": last_id}) as resp:
            resumed = await next_event(sse_events(resp))
            assert resumed["event"] == "delta"
            assert {c["cell"]: c["surge_multiplier"] for c in resumed["data"]["cells"]} == {
                inside[1]: 1.3, inside[2]: 1.4}
        # the first connection may give the revision in the query; a garbage header is a fresh start
        async with http.get(sse_url(node, QUERY + f"&last_event_id={resumed['id']}")) as resp:
            assert (await next_event(sse_events(resp)))["data"]["cells"] == []
        async with http.get(sse_url(node), headers={"Last-Event-ID": "nonsense"}) as resp:
            assert (await next_event(sse_events(resp)))["event"] == "snapshot"


async def test_comment_pings_and_client_gone(nats_server, tmp_path):
    async with running_node(nats_server.url, tmp_path / "n", EQ_PUSH_HEARTBEAT_S="0.3") as node, \
            aiohttp.ClientSession() as http:
        async with http.get(sse_url(node)) as resp:
            events = sse_events(resp)
            pings = 0
            async with asyncio.timeout(5):
                async for event in events:
                    pings += event.get("comment") == "ping"
                    if pings == 3:
                        break
            assert node.metrics.stream_clients.labels(transport="sse").value == 1
        # the client went away: the node notices and frees the slot
        async with asyncio.timeout(5):
            while node.metrics.stream_clients.labels(transport="sse").value != 0:
                await asyncio.sleep(0.05)
        assert node.metrics.stream_disconnects.labels(reason="client").value == 1


async def test_bad_viewport_is_a_400_with_the_error_body(nats_server, tmp_path):
    async with running_node(nats_server.url, tmp_path / "n") as node, aiohttp.ClientSession() as http:
        cases = {
            "?zoom=14": ("validation_error", "bounds"),
            "?bounds=37.8,-122.4,37.7,-122.5&zoom=14": ("out_of_range", "bounds"),
            "?bounds=91,0,92,1&zoom=14": ("out_of_range", "bounds"),
            QUERY.replace("zoom=14", "zoom=40"): ("out_of_range", "zoom"),
            QUERY.replace("zoom=14", "zoom=x"): ("validation_error", "zoom"),
            QUERY + "&vehicle_type=boat": ("unknown_vehicle_type", "vehicle_type"),
            "?bounds=30,-130,45,-110&zoom=14": ("too_many_cells", "bounds"),
            QUERY + "&last_event_id=-3": ("out_of_range", "last_event_id"),
        }
        for query, (code, field) in cases.items():
            async with http.get(sse_url(node, query)) as resp:
                body = await resp.json()
                assert resp.status == 400, (query, body)
                assert body["error"]["code"] == code and body["error"]["field"] == field, (query, body)

"""What a stream refuses or survives: app tokens, the connection limit, bad messages, floods, dead peers."""

from __future__ import annotations

import asyncio
import json

import aiohttp

from equilibrium_node.errors import CloseCode
from equilibrium_node.stream.ratelimit import BURST, FLOOD_CLOSE_AFTER
from equilibrium_node.stream.ws import MAX_MESSAGE_BYTES
from tests.support.streams import SF_BOUNDS, next_json, running_node, subscribe_msg, ws_url

SSE_QUERY = "?bounds=" + ",".join(map(str, SF_BOUNDS)) + "&zoom=14"


def sse_url(node, query: str = SSE_QUERY) -> str:
    """The node's SSE stream URL."""
    return node.status.http_address + "/api/v1/stream/heatmap/sse" + query


async def _closed_with(ws: aiohttp.ClientWebSocketResponse, timeout: float = 5.0) -> int | None:
    async with asyncio.timeout(timeout):
        while True:
            msg = await ws.receive()
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
                return ws.close_code


async def test_app_tokens_are_checked_at_connect(nats_server, tmp_path):
    env = {"EQ_PUSH_APP_TOKENS": '["driver-app-1", "driver-app-2"]'}
    async with running_node(nats_server.url, tmp_path / "n", **env) as node, aiohttp.ClientSession() as http:
        for query in ("", "?token=wrong"):
            async with http.ws_connect(ws_url(node, query)) as ws:
                assert await _closed_with(ws) == CloseCode.UNAUTHORIZED == 4001
        async with http.ws_connect(ws_url(node, "?token=driver-app-2")) as ws:
            await ws.send_json(subscribe_msg())
            assert (await next_json(ws))["type"] == "snapshot"
        async with http.ws_connect(ws_url(node), headers={"Authorization": "Bearer driver-app-1"}) as ws:
            await ws.send_json(subscribe_msg())
            assert (await next_json(ws))["type"] == "snapshot"
        async with http.get(sse_url(node)) as resp:
            assert resp.status == 401
            assert (await resp.json())["error"]["code"] == "unauthorized"
        async with http.get(sse_url(node, SSE_QUERY + "&token=driver-app-1")) as resp:
            assert resp.status == 200
        assert node.metrics.stream_disconnects.labels(reason="unauthorized").value == 3


async def test_connection_limit_refuses_clearly(nats_server, tmp_path):
    async with running_node(nats_server.url, tmp_path / "n", EQ_PUSH_MAX_CONNECTIONS="2") as node, \
            aiohttp.ClientSession() as http:
        first = await http.ws_connect(ws_url(node))
        second = await http.get(sse_url(node))
        assert second.status == 200
        async with http.ws_connect(ws_url(node)) as third:
            assert await _closed_with(third) == CloseCode.TOO_MANY_CONNECTIONS == 4029
        async with http.get(sse_url(node)) as resp:
            assert resp.status == 503
            assert (await resp.json())["error"]["code"] == "too_many_connections"
        await first.close()
        async with asyncio.timeout(5):  # a freed slot can be taken again
            while node.metrics.stream_clients.labels(transport="ws").value:
                await asyncio.sleep(0.02)
        async with http.ws_connect(ws_url(node)) as again:
            await again.send_json(subscribe_msg())
            assert (await next_json(again))["type"] == "snapshot"
        second.close()
        assert node.metrics.stream_disconnects.labels(reason="too_many").value == 2


async def test_bad_messages_get_errors_and_the_connection_stays_usable(nats_server, tmp_path):
    bad = [
        (b"not json at all", "bad_json", None),
        (b"[1, 2]", "validation_error", "type"),
        (b'{"type": "dance"}', "unknown_message_type", "type"),
        (json.dumps(subscribe_msg((95.0, 0.0, 96.0, 1.0))).encode(), "out_of_range", "bounds"),
        (json.dumps(subscribe_msg((37.8, -122.4, 37.7, -122.5))).encode(), "out_of_range", "bounds"),
        (json.dumps({"type": "subscribe", "bounds": [1, 2, 3], "zoom": 3}).encode(), "validation_error", "bounds"),
        (json.dumps(subscribe_msg((30.0, -130.0, 45.0, -110.0), zoom=14)).encode(), "too_many_cells", "bounds"),
        (json.dumps(subscribe_msg(zoom=40)).encode(), "out_of_range", "zoom"),
        (json.dumps(subscribe_msg(zoom=3.5)).encode(), "validation_error", "zoom"),
        (json.dumps(subscribe_msg(vehicle_type="boat")).encode(), "unknown_vehicle_type", "vehicle_type"),
        (json.dumps(subscribe_msg(since=-1)).encode(), "validation_error", "since"),
    ]
    assert len(bad) + 2 < BURST
    async with running_node(nats_server.url, tmp_path / "n") as node, aiohttp.ClientSession() as http, \
            http.ws_connect(ws_url(node)) as ws:
        for payload, code, field in bad:
            await ws.send_str(payload.decode())
            error = await next_json(ws)
            assert error["type"] == "error" and error["code"] == code and error["field"] == field, (payload, error)
            assert error["message"]
        await ws.send_bytes(b"\x00\x01")
        assert (await next_json(ws))["code"] == "bad_json"
        await ws.send_json(subscribe_msg())
        assert (await next_json(ws))["type"] == "snapshot"  # still usable


async def test_floods_are_rate_limited_then_closed(nats_server, tmp_path):
    async with running_node(nats_server.url, tmp_path / "n") as node, aiohttp.ClientSession() as http:
        # a burst a little over the limit: one rate_limited error, the connection stays
        async with http.ws_connect(ws_url(node)) as ws:
            for _ in range(BURST + 5):
                await ws.send_json({"type": "ping"})
            replies = [await next_json(ws) for _ in range(BURST + 1)]
            assert [r["type"] for r in replies].count("pong") == BURST
            assert [r.get("code") for r in replies].count("rate_limited") == 1
            await asyncio.sleep(0.5)  # a couple of tokens come back
            await ws.send_json(subscribe_msg())
            assert (await next_json(ws))["type"] == "snapshot"
        # persistent flooding: closed with the named code
        async with http.ws_connect(ws_url(node)) as ws:
            for _ in range(BURST + FLOOD_CLOSE_AFTER + 10):
                await ws.send_json({"type": "ping"})
            pongs = errors = 0
            async with asyncio.timeout(5):
                while True:
                    msg = await ws.receive()
                    if msg.type is not aiohttp.WSMsgType.TEXT:
                        break
                    body = json.loads(msg.data)
                    pongs += body["type"] == "pong"
                    errors += body["type"] == "error"
            assert ws.close_code == CloseCode.FLOODING == 4030
            assert errors == 1 and pongs <= BURST + 2
        assert node.metrics.stream_disconnects.labels(reason="flooding").value == 1


async def test_ws_pings_and_dead_peers_are_dropped(nats_server, tmp_path):
    async with running_node(nats_server.url, tmp_path / "n", EQ_PUSH_HEARTBEAT_S="0.3") as node, \
            aiohttp.ClientSession() as http:
        # a live client answers pings (aiohttp does while it reads) and stays
        async with http.ws_connect(ws_url(node)) as live:
            received: list[dict] = []

            async def read_live() -> None:
                async for msg in live:
                    received.append(json.loads(msg.data))

            reader = asyncio.create_task(read_live())
            # a dead one never answers: it sees the pings, then the node drops it
            async with http.ws_connect(ws_url(node), autoping=False) as dead:
                pings = 0
                async with asyncio.timeout(5):
                    while True:
                        msg = await dead.receive()
                        if msg.type is aiohttp.WSMsgType.PING:
                            pings += 1
                        elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                                          aiohttp.WSMsgType.ERROR):
                            break
                assert pings >= 1
            async with asyncio.timeout(5):
                while node.metrics.stream_disconnects.labels(reason="heartbeat").value < 1:
                    await asyncio.sleep(0.02)
            await asyncio.sleep(1.0)  # several heartbeats later the live client is still served
            await live.send_json(subscribe_msg())
            async with asyncio.timeout(5):
                while not any(m["type"] == "snapshot" for m in received):
                    await asyncio.sleep(0.02)
            await live.close()
            await reader
        assert node.metrics.stream_disconnects.labels(reason="heartbeat").value == 1


async def test_oversized_message_closes_with_1009(nats_server, tmp_path):
    async with running_node(nats_server.url, tmp_path / "n") as node, aiohttp.ClientSession() as http, \
            http.ws_connect(ws_url(node)) as ws:
        await ws.send_str(json.dumps({"type": "subscribe", "pad": "x" * (MAX_MESSAGE_BYTES + 1)}))
        assert await _closed_with(ws) == CloseCode.MESSAGE_TOO_BIG == 1009

"""Helpers for heatmap stream tests: an in-process node on a test nats-server, a surge writer, stream clients.

Nothing here is a mock: the node is the real :class:`Node` serving real HTTP/WebSocket on a free port,
the writer puts ``SurgeUpdate`` JSON into the real KV bucket exactly as the pricing leader does, and the
clients speak WebSocket (aiohttp, or raw frames over a plain socket) and SSE over TCP.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import json
import os
import socket
import struct
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import aiohttp
import msgspec

from equilibrium_node.__main__ import BUNDLED_CONFIG
from equilibrium_node.bus.names import RegionNames
from equilibrium_node.geo import cells
from equilibrium_node.messages import SurgeUpdate, surge_key
from equilibrium_node.node import Node
from equilibrium_node.settings import load_settings

#: a part of San Francisco (Financial District to Mission) at pricing level 13
SF_BOUNDS = (37.75, -122.45, 37.80, -122.39)


def cells_in(bounds: tuple[float, float, float, float], level: int = 13) -> list[str]:
    """Pricing cells whose centre lies in ``bounds`` (as the heatmap counts them)."""
    found = cells.cover_rect(*bounds, level, 100_000) or []
    out = []
    for token in found:
        lat, lng = cells.center(token)
        if bounds[0] <= lat <= bounds[2] and bounds[1] <= lng <= bounds[3]:
            out.append(token)
    return sorted(out)


def now_rfc3339() -> str:
    """Current UTC time with microseconds."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def surge_update(cell: str, multiplier: float, vehicle_type: str = "standard", *, supply: float = 3.0,
                 demand: float = 4.0, level: str = "normal", rev: int = 1, updated_at: str | None = None) -> bytes:
    """A surge update as the pricing leader writes it."""
    return msgspec.json.encode(SurgeUpdate(
        cell=cell, zone_id="sf_default", vehicle_type=vehicle_type, multiplier=multiplier, supply=supply,
        demand=demand, demand_level=level, trend="stable", algorithm="linear", rev=rev,  # type: ignore[arg-type]
        updated_at=updated_at or now_rfc3339()))


class SurgeWriter:
    """Writes surge updates into KV ``eq_<region>_surge`` (what the leader does every tick)."""

    def __init__(self, kv) -> None:
        self.kv = kv
        self.rev = 0

    @classmethod
    async def open(cls, js, region: str = "sf") -> SurgeWriter:
        """Writer on the region's bucket (the node provisions it)."""
        return cls(await js.key_value(RegionNames(region).surge_bucket))

    async def put(self, cell: str, multiplier: float, vehicle_type: str = "standard", **kw) -> int:
        """One update; returns its KV revision."""
        self.rev += 1
        return await self.kv.put(surge_key(cell, vehicle_type), surge_update(cell, multiplier, vehicle_type,
                                                                             rev=self.rev, **kw))

    async def tick(self, values: dict[str, float], vehicle_type: str = "standard", **kw) -> int:
        """A tick's updates (concurrently, as a leader would); returns the highest revision."""
        revs = await asyncio.gather(*(self.put(c, m, vehicle_type, **kw) for c, m in values.items()))
        return max(revs)

    async def delete(self, cell: str, vehicle_type: str = "standard") -> None:
        """Remove a cell's value."""
        await self.kv.delete(surge_key(cell, vehicle_type))


def node_settings(nats_url: str, data_dir: Path, **env: str):
    """Bundled SF settings pointed at ``nats_url``, HTTP on a free port, fast ticks; ``env`` overrides."""
    base = {"EQ_NATS_URL": nats_url, "EQ_HTTP": "127.0.0.1:0", "EQ_QUOTE_SECRET": "test-secret",
            "EQ_DATA_DIR": str(data_dir), "EQ_PRICING_TICK_S": "0.2", "EQ_LOG_LEVEL": "warning"}
    base.update(env)
    return load_settings(BUNDLED_CONFIG, env=base)


@contextlib.asynccontextmanager
async def running_node(nats_url: str, data_dir: Path, **env: str) -> AsyncIterator[Node]:
    """A real node in this process (its HTTP on a free port); stopped in order on exit."""
    node = Node(node_settings(nats_url, data_dir, **env))
    stop = asyncio.Event()
    task = asyncio.create_task(node.run(stop))
    ready = asyncio.create_task(node.ready.wait())
    done, _ = await asyncio.wait({task, ready}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    if ready not in done:
        ready.cancel()
        if task in done:
            task.result()
        raise AssertionError("node did not become ready")
    try:
        yield node
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


async def synced(revision: int, *nodes: Node, timeout: float = 10.0) -> int:
    """Wait until every node's surge view has applied ``revision`` (a KV put is acked before watchers see it)."""
    async with asyncio.timeout(timeout):
        while any(node.surge_view.revision < revision for node in nodes):
            await asyncio.sleep(0.005)
    return revision


def ws_url(node: Node, query: str = "") -> str:
    """The node's WebSocket stream URL."""
    return node.status.http_address.replace("http://", "ws://") + "/api/v1/stream/heatmap/ws" + query


def subscribe_msg(bounds=SF_BOUNDS, zoom: int = 14, **extra) -> dict:
    """A subscribe message."""
    return {"type": "subscribe", "bounds": list(bounds), "zoom": zoom, **extra}


async def next_json(ws: aiohttp.ClientWebSocketResponse, timeout: float = 5.0,
                    skip: Iterable[str] = ("status",)) -> dict:
    """The next server message whose type is not in ``skip``."""
    async with asyncio.timeout(timeout):
        while True:
            msg = await ws.receive()
            if msg.type is not aiohttp.WSMsgType.TEXT:
                raise AssertionError(f"expected a text frame, got {msg.type} {msg.data!r} {msg.extra!r}")
            body = json.loads(msg.data)
            if body["type"] not in skip:
                return body


async def sse_events(response: aiohttp.ClientResponse) -> AsyncIterator[dict]:
    """Parse an SSE body into events ``{"id","event","data"}`` (comments become ``{"comment"}``)."""
    event: dict = {}
    async for raw in response.content:
        line = raw.decode().rstrip("\r\n")
        if not line:
            if event:
                yield event
            event = {}
            continue
        if line.startswith(":"):
            yield {"comment": line[1:].strip()}
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            event["data"] = json.loads(value)
        else:
            event[name] = value


async def next_event(events: AsyncIterator[dict], timeout: float = 5.0, skip: Iterable[str] = ("status",)) -> dict:
    """The next SSE event (not a comment, not of a skipped type)."""
    async with asyncio.timeout(timeout):
        async for event in events:
            if "comment" in event or event.get("event") in skip or "event" not in event:
                continue
            return event
    raise AssertionError("stream ended")


class RawWsClient:
    """A WebSocket client on a plain socket that can stop reading (a stalled phone) and parse frames later."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    @classmethod
    async def connect(cls, host: str, port: int, path: str, rcvbuf: int = 4096) -> RawWsClient:
        """Open, shrink the receive buffer (so the server's side fills soon), upgrade."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_connect(sock, (host, port))
        key = base64.b64encode(os.urandom(16)).decode()
        request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
        await loop.sock_sendall(sock, request.encode())
        client = cls(sock)
        while b"\r\n\r\n" not in client.buffer:
            chunk = await loop.sock_recv(sock, 4096)
            if not chunk:
                raise AssertionError("connection closed during the upgrade")
            client.buffer += chunk
        head, _, client.buffer = client.buffer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        return client

    async def send_json(self, obj: dict) -> None:
        """A masked text frame (clients must mask)."""
        payload = json.dumps(obj).encode()
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        n = len(payload)
        header = bytes((0x81, 0x80 | n)) if n < 126 else struct.pack("!BBH", 0x81, 0x80 | 126, n)
        await asyncio.get_running_loop().sock_sendall(self.sock, header + mask + masked)

    async def read_all(self, timeout: float = 10.0) -> list[tuple[int, bytes]]:
        """Read until the server closes; returns every frame as (opcode, payload)."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout):
            while True:
                try:
                    chunk = await loop.sock_recv(self.sock, 1 << 16)
                except ConnectionError:
                    break
                if not chunk:
                    break
                self.buffer += chunk
        return parse_frames(self.buffer)

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()


def parse_frames(data: bytes) -> list[tuple[int, bytes]]:
    """Unmasked server frames in ``data`` (a trailing partial frame is ignored)."""
    frames, i = [], 0
    while i + 2 <= len(data):
        opcode, n = data[i] & 0x0F, data[i + 1] & 0x7F
        i += 2
        if n == 126:
            (n,) = struct.unpack_from("!H", data, i)
            i += 2
        elif n == 127:
            (n,) = struct.unpack_from("!Q", data, i)
            i += 8
        if i + n > len(data):
            break
        frames.append((opcode, data[i:i + n]))
        i += n
    return frames


def close_code(frames: list[tuple[int, bytes]]) -> int | None:
    """The status code of the close frame among ``frames``, if any."""
    for opcode, payload in frames:
        if opcode == 0x8 and len(payload) >= 2:
            return struct.unpack("!H", payload[:2])[0]
    return None

"""``GET /api/v1/stream/heatmap/ws``: the heatmap stream over WebSocket.

The handler owns the connection's reading side: it checks the app token and the connection limit
right after the upgrade (refusals are close codes, 4001 and 4029), then reads client messages
(``subscribe``, ``ping``) through the connection's flood guard. Everything the client receives is
written by the hub (see :mod:`.hub`); this module only frames the close.

- permessage-deflate is never negotiated, so one encoded frame serves every connection;
- pings every ``push.heartbeat_s`` are aiohttp's heartbeat: a peer that does not answer within half
  of that is dropped (``eq_stream_disconnects_total{reason="heartbeat"}``);
- client messages are capped at :data:`MAX_MESSAGE_BYTES` (aiohttp closes with 1009 above).
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import msgspec
from aiohttp import WSMsgType, web

from ..api.endpoint import validation_error
from ..errors import ApiError, CloseCode, Code
from .access import AppTokens
from .framing import Outgoing
from .hub import Reason, StreamHub
from .protocol import Pong, envelope_decoder, subscribe_decoder
from .ratelimit import FloodGuard, Verdict
from .sockets import tune_stream_socket
from .subscriber import Subscriber

MAX_MESSAGE_BYTES = 8 * 1024
#: how long a server-side close may wait for the client (close handshake, draining) before aborting
CLOSE_GRACE_S = 2.0

_PONG = Outgoing.of(Pong())
_REFUSALS = {
    Reason.TOO_MANY: (CloseCode.TOO_MANY_CONNECTIONS, b"too many connections on this node"),
    Reason.NOT_READY: (CloseCode.TRY_AGAIN_LATER, b"prices not loaded yet: try again"),
    Reason.SHUTDOWN: (CloseCode.GOING_AWAY, b"server shutting down"),
}


class WsSink:
    """The WebSocket side of a subscriber: closing with a code, without blocking the hub."""

    kind = "ws"

    def __init__(self, ws: web.WebSocketResponse, transport: asyncio.Transport) -> None:
        self.ws = ws
        self.transport = transport
        self.closing: asyncio.Task[None] | None = None

    def end(self, code: int, reason: str) -> None:
        """Start the close handshake in the background; abort the connection if it does not finish."""
        if self.closing is None:
            self.closing = asyncio.get_running_loop().create_task(self._close(code, reason))

    async def _close(self, code: int, reason: str) -> None:
        try:
            async with asyncio.timeout(CLOSE_GRACE_S):
                await self.ws.close(code=code, message=reason.encode()[:123])
        except (TimeoutError, ConnectionError, RuntimeError):
            self.transport.abort()  # it would not take the close frame: a stalled peer
        else:
            # the transport flushes what is buffered, then closes; never wait on it forever
            asyncio.get_running_loop().call_later(CLOSE_GRACE_S, self.transport.abort)


class WsStream:
    """The WebSocket endpoint of the heatmap stream."""

    def __init__(self, hub: StreamHub, tokens: AppTokens, heartbeat_s: float, stall_timeout_s: float) -> None:
        self.hub = hub
        self.tokens = tokens
        self.heartbeat_s = heartbeat_s
        self.user_timeout_s = heartbeat_s + stall_timeout_s

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Upgrade, admit, then read client messages until the connection ends."""
        ws = web.WebSocketResponse(heartbeat=self.heartbeat_s, compress=False, max_msg_size=MAX_MESSAGE_BYTES,
                                   decode_text=False, timeout=CLOSE_GRACE_S)
        await ws.prepare(request)
        hub = self.hub
        if not self.tokens.allows(request):
            hub.refused(Reason.UNAUTHORIZED)
            await ws.close(code=CloseCode.UNAUTHORIZED, message=b"unauthorized: missing or unknown app token")
            return ws
        refusal = hub.refusal()
        transport = request.transport
        if refusal is not None or transport is None:
            hub.refused(refusal or Reason.CLIENT)
            code, text = _REFUSALS.get(refusal, _REFUSALS[Reason.SHUTDOWN])
            await ws.close(code=code, message=text)
            return ws
        tune_stream_socket(transport, self.user_timeout_s)
        sink = WsSink(ws, transport)
        sub = hub.attach(sink)
        guard = FloodGuard(time.monotonic())
        reason = Reason.CLIENT
        try:
            async for msg in ws:
                if msg.type is WSMsgType.ERROR:
                    reason = Reason.HEARTBEAT if isinstance(ws.exception(), TimeoutError) else Reason.ERROR
                    break
                if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    continue
                verdict = guard.check(time.monotonic())
                if verdict is Verdict.ACCEPT:
                    if msg.type is WSMsgType.TEXT:
                        self.on_message(sub, msg.data)
                    else:
                        hub.error(sub, Code.BAD_JSON, "binary frames are not supported: send JSON text frames")
                elif verdict is Verdict.WARN:
                    hub.error(sub, Code.RATE_LIMITED, "too many messages: this one and the next ones are dropped "
                              "until you slow down")
                elif verdict is Verdict.CLOSE:
                    hub.end(sub, CloseCode.FLOODING, Reason.FLOODING, "flooding: too many messages")
                    break
        finally:
            hub.detach(sub, reason)
            if sink.closing is not None:
                with contextlib.suppress(Exception):
                    await sink.closing
        return ws

    def on_message(self, sub: Subscriber, data: bytes) -> None:
        """Route one client message; anything wrong gets an ``error`` message and the connection stays."""
        hub = self.hub
        try:
            kind = envelope_decoder.decode(data).type
        except msgspec.ValidationError as exc:  # (a subclass of DecodeError: first)
            hub.error(sub, Code.VALIDATION, f"a message is a JSON object with a string 'type': {exc}", "type")
            return
        except msgspec.DecodeError as exc:
            hub.error(sub, Code.BAD_JSON, f"not JSON: {exc}")
            return
        if kind == "subscribe":
            try:
                message = subscribe_decoder.decode(data)
                viewport = hub.rules.parse(message.bounds, message.zoom, message.vehicle_type)
            except (msgspec.ValidationError, msgspec.DecodeError) as exc:
                error = validation_error(exc)
                hub.error(sub, error.code, error.message, error.field)
                return
            except ApiError as exc:
                hub.error(sub, exc.code, exc.message, exc.field)
                return
            hub.subscribe(sub, viewport, message.since)
        elif kind == "ping":
            hub.reply(sub, _PONG)
        else:
            hub.error(sub, Code.UNKNOWN_MESSAGE_TYPE,
                      f"unknown message type {kind[:40]!r}: expected 'subscribe' or 'ping'", "type")


__all__ = ["CLOSE_GRACE_S", "MAX_MESSAGE_BYTES", "WsSink", "WsStream"]

"""``GET /api/v1/stream/heatmap/sse?bounds=...&zoom=Z[&vehicle_type=][&token=]``: the stream as Server-Sent Events.

The viewport comes from the query string (a new viewport is a new request). Every ``snapshot`` and
``delta`` event carries ``id: <rev>``; a browser's ``EventSource`` sends it back as ``Last-Event-ID``
when it reconnects, and the node answers with a ``delta`` of what changed since (or a fresh snapshot
when it cannot know: see :mod:`equilibrium_node.serving.change_log`). A first connection may pass
``last_event_id=<rev>`` in the query instead, since ``EventSource`` cannot set headers.

Refusals happen before the stream starts, as JSON errors: 400 (bad viewport), 401 (app token), 503
(connection limit or shutting down). The stream opens with ``retry:`` (a reconnect delay with jitter,
so a node restart does not bring every client back in the same second), a ``status`` event, then the
snapshot. Comment pings (``: ping``) every ``push.heartbeat_s`` keep proxies from timing out the
connection and make the kernel notice a vanished peer (TCP user timeout). aiohttp-sse is not used: it
encodes every event per client and awaits each send, where the hub writes one shared chunk.
"""

from __future__ import annotations

import asyncio
import random

from aiohttp import web

from ..api.endpoint import parse_bounds, query_int
from ..errors import ApiError, Code
from .access import AppTokens
from .framing import Outgoing, http_chunk
from .hub import Reason, StreamHub
from .protocol import MAX_ZOOM, Closing
from .sockets import tune_stream_socket
from .viewport import Viewport

#: how long a server-side end may take to reach the client before the connection is aborted
CLOSE_GRACE_S = 2.0
RETRY_MS = (2000, 5000)

HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class SseSink:
    """The SSE side of a subscriber: a ``close`` event, then the end of the response."""

    kind = "sse"

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.done = asyncio.Event()

    def end(self, code: int, reason: str) -> None:
        """Tell the client why (if the connection still works), end the response, abort if it never drains."""
        if not self.transport.is_closing():
            self.transport.write(Outgoing.of(Closing(code=code, reason=reason)).sse())
            asyncio.get_running_loop().call_later(CLOSE_GRACE_S, self.transport.abort)
        self.done.set()


def last_event_id(request: web.Request) -> int | None:
    """The revision to resume from: ``Last-Event-ID`` (ignored when not a revision), or ``last_event_id``."""
    header = request.headers.get("Last-Event-ID", "").strip()
    if header.isdigit():
        return int(header)
    if "last_event_id" in request.query:
        return query_int(request, "last_event_id", lo=0)
    return None


class SseStream:
    """The SSE endpoint of the heatmap stream."""

    def __init__(self, hub: StreamHub, tokens: AppTokens, heartbeat_s: float, stall_timeout_s: float) -> None:
        self.hub = hub
        self.tokens = tokens
        self.user_timeout_s = heartbeat_s + stall_timeout_s

    def viewport(self, request: web.Request) -> Viewport:
        """The viewport of the query string, or a 400 naming the parameter."""
        bounds = parse_bounds(request.query.get("bounds"))
        zoom = query_int(request, "zoom", lo=0, hi=MAX_ZOOM)
        return self.hub.rules.parse(bounds, zoom, request.query.get("vehicle_type") or None)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Check, start the event stream, and keep it open until the client or the hub ends it."""
        hub = self.hub
        if not self.tokens.allows(request):
            hub.refused(Reason.UNAUTHORIZED)
            raise ApiError("missing or unknown app token (query token= or Authorization: Bearer)",
                           code=Code.UNAUTHORIZED, field="token", status=401)
        viewport = self.viewport(request)
        since = last_event_id(request)
        refusal = hub.refusal()
        if refusal == Reason.TOO_MANY:
            hub.refused(refusal)
            raise ApiError("too many stream connections on this node; retry later or use another node",
                           code=Code.TOO_MANY_CONNECTIONS, status=503)
        if refusal == Reason.NOT_READY:
            hub.refused(refusal)
            raise ApiError("the node has not loaded the served prices yet; retry", code=Code.NOT_READY, status=503)
        if refusal is not None:
            hub.refused(refusal)
            raise ApiError("the node is shutting down", code=Code.UNAVAILABLE, status=503)
        if request.version < (1, 1):
            raise ApiError("server-sent events need HTTP/1.1", code=Code.VALIDATION)
        response = web.StreamResponse(headers=HEADERS)
        response.enable_chunked_encoding()
        await response.prepare(request)
        transport = request.transport
        if transport is None or transport.is_closing():
            return response
        tune_stream_socket(transport, self.user_timeout_s)
        transport.write(http_chunk(b"retry: %d\n\n" % random.randint(*RETRY_MS)))
        sink = SseSink(transport)
        sub = hub.attach(sink)
        try:
            hub.subscribe(sub, viewport, since)
            await sink.done.wait()
        finally:
            hub.detach(sub, Reason.CLIENT)
        return response


__all__ = ["SseSink", "SseStream", "last_event_id"]

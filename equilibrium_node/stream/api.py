"""The stream endpoints as an :class:`ApiPart`: routes and OpenAPI entries for the WebSocket and SSE streams."""

from __future__ import annotations

from ..api.endpoint import ApiPart, Endpoint, Param
from ..api.errors import ErrorBody
from ..settings.model import PushSettings
from .access import AppTokens
from .hub import StreamHub
from .protocol import MAX_ZOOM, Snapshot
from .sse import SseStream
from .ws import WsStream

WS_PATH = "/api/v1/stream/heatmap/ws"
SSE_PATH = "/api/v1/stream/heatmap/sse"

_TOKEN = Param("token", "query", {"type": "string"}, description="App token, when the node requires one "
               "(or `Authorization: Bearer <token>`).")


class StreamApi(ApiPart):
    """``/api/v1/stream/heatmap/ws`` and ``/api/v1/stream/heatmap/sse``."""

    def __init__(self, hub: StreamHub, push: PushSettings) -> None:
        tokens = AppTokens(push.app_tokens)
        self.ws = WsStream(hub, tokens, push.heartbeat_s, push.stall_timeout_s)
        self.sse = SseStream(hub, tokens, push.heartbeat_s, push.stall_timeout_s)

    def endpoints(self) -> list[Endpoint]:
        """The two stream endpoints (not timed by the request-latency histogram)."""
        viewport = [
            Param("bounds", "query", {"type": "string"}, required=True,
                  description="lat1,lng1,lat2,lng2: south-west corner first."),
            Param("zoom", "query", {"type": "integer", "minimum": 0, "maximum": MAX_ZOOM}, required=True,
                  description="Web-map zoom; sets the S2 level of the cells drawn."),
            Param("vehicle_type", "query", {"type": "string"},
                  description="Default: the region's first vehicle type."),
            Param("last_event_id", "query", {"type": "integer", "minimum": 0},
                  description="Resume from this revision (as the Last-Event-ID header does)."),
            Param("Last-Event-ID", "header", {"type": "string"},
                  description="Sent by EventSource on reconnect: only what changed since is sent."),
            _TOKEN,
        ]
        return [
            Endpoint("GET", WS_PATH, self.ws.handle, "Live heatmap over WebSocket: subscribe with a viewport, "
                     "receive a snapshot then deltas (see the README for messages and close codes).",
                     tags=("stream",), params=[_TOKEN], auth="app", streaming=True,
                     responses={101: (None, "Switching protocols; refusals are close codes 4001 / 4029.")}),
            Endpoint("GET", SSE_PATH, self.sse.handle, "Live heatmap as Server-Sent Events: `status`, "
                     "`snapshot`, then `delta` events with `id: <rev>`.", tags=("stream",), params=viewport,
                     auth="app", streaming=True, content_type="text/event-stream",
                     responses={200: (Snapshot, "An event stream; each event's data is one message."),
                                503: (ErrorBody, "Connection limit reached or the node is stopping.")}),
        ]


__all__ = ["SSE_PATH", "WS_PATH", "StreamApi"]

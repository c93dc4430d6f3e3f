"""The heatmap stream's messages (CONTRACT: ``/api/v1/stream/heatmap/ws`` and ``.../sse``) as msgspec Structs.

Client to server (WebSocket text frames, JSON):

- ``{"type":"subscribe","bounds":[lat1,lng1,lat2,lng2],"zoom":Z,"vehicle_type"?,"since"?}``: set (or
  move) the viewport; ``since`` is the ``rev`` of the client's last message, to resume instead of
  receiving a fresh snapshot.
- ``{"type":"ping"}``: answered with ``{"type":"pong"}`` (for clients that cannot see WS pings).

Server to client (the same JSON is the ``data:`` of an SSE event named after ``type``):

- ``snapshot``: every cell in view (``cells`` as in the REST heatmap), ``rev``, the viewport echoed.
- ``delta``: the cells in view that changed, and ``removed`` tokens of cells that disappeared.
- ``status``: ``{"degraded": bool}``, on connect and whenever it changes.
- ``error``: ``{"code","message","field"}``; the connection stays usable.

Cells arrive pre-encoded (``msgspec.Raw``) because each one is encoded once for every viewport that
shows it; see :mod:`.render`.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta, Raw, Struct

MAX_ZOOM = 22
Bounds = tuple[float, float, float, float]


class Envelope(Struct):
    """Only the ``type`` of a client message, to route it before decoding the rest."""

    type: str


class Subscribe(Struct, forbid_unknown_fields=True):
    """Set the viewport; a new one gets a fresh snapshot (or, with ``since``, only what changed)."""

    type: str
    bounds: Bounds
    zoom: int  # range checked with the bounds (out_of_range, as the REST heatmap)
    vehicle_type: Annotated[str, Meta(max_length=64)] | None = None
    since: Annotated[int, Meta(ge=0)] | None = None


class Snapshot(Struct, tag="snapshot", tag_field="type"):
    """Every cell in the viewport at revision ``rev``."""

    rev: int
    vehicle_type: str
    level: int
    bounds: Bounds
    cells: list[Raw]
    last_updated: str | None


class Delta(Struct, tag="delta", tag_field="type"):
    """Cells in view that changed since the client's previous message, as of revision ``rev``."""

    rev: int
    cells: list[Raw]
    removed: list[str]
    last_updated: str | None


class Status(Struct, tag="status", tag_field="type"):
    """The node serves stale or fallback prices (``degraded``) or not."""

    degraded: bool


class Error(Struct, tag="error", tag_field="type"):
    """A client message could not be served; the connection stays open."""

    code: str
    message: str
    field: str | None = None


class Pong(Struct, tag="pong", tag_field="type"):
    """Answer to ``ping``."""


class Closing(Struct, tag="close", tag_field="type"):
    """SSE only (no close codes there): why the server ends the stream."""

    code: int
    reason: str


ServerMessage = Snapshot | Delta | Status | Error | Pong | Closing

envelope_decoder = msgspec.json.Decoder(Envelope)
subscribe_decoder = msgspec.json.Decoder(Subscribe)
encoder = msgspec.json.Encoder()

__all__ = [
    "MAX_ZOOM", "Bounds", "Closing", "Delta", "Envelope", "Error", "Pong", "ServerMessage", "Snapshot", "Status",
    "Subscribe", "encoder", "envelope_decoder", "subscribe_decoder",
]

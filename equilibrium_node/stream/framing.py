"""Wire bytes of one stream message, built once and shared by every connection that receives it.

The hub writes these bytes straight to each connection's transport (never ``await ws.send_*``, which
waits for a paused transport and would let one stalled client stall the broadcast). So the framing is
done here, once per message:

- WebSocket: an unmasked, uncompressed text frame (RFC 6455 §5.2; the server never negotiates
  permessage-deflate for streams, so one frame is valid on every connection).
- SSE: an event (``id:`` revision, ``event:`` type, ``data:`` JSON on one line) wrapped in an HTTP/1.1
  chunk, because aiohttp sends a response without a length as ``Transfer-Encoding: chunked``.
"""

from __future__ import annotations

import struct

from . import protocol

_LEN2 = struct.Struct("!BBH")
_LEN8 = struct.Struct("!BBQ")

OP_TEXT = 0x1
SSE_PING = b": ping\n\n"


def ws_frame(payload: bytes, opcode: int = OP_TEXT) -> bytes:
    """A final, unmasked server frame carrying ``payload``."""
    first = 0x80 | opcode
    n = len(payload)
    if n < 126:
        return bytes((first, n)) + payload
    if n < 65536:
        return _LEN2.pack(first, 126, n) + payload
    return _LEN8.pack(first, 127, n) + payload


def sse_event(event: str, data: bytes, event_id: int | None = None) -> bytes:
    """One SSE event; ``data`` must not contain a newline (compact JSON never does)."""
    head = f"id: {event_id}\nevent: {event}\ndata: " if event_id is not None else f"event: {event}\ndata: "
    return head.encode() + data + b"\n\n"


def http_chunk(data: bytes) -> bytes:
    """``data`` as one chunk of a chunked HTTP/1.1 body."""
    return b"%x\r\n%b\r\n" % (len(data), data)


class Outgoing:
    """One server message: its JSON, and the WS frame / SSE chunk built on first use."""

    __slots__ = ("_sse", "_ws", "event", "json", "rev")

    def __init__(self, event: str, json: bytes, rev: int | None = None) -> None:
        self.event = event
        self.json = json
        self.rev = rev
        self._ws: bytes | None = None
        self._sse: bytes | None = None

    @classmethod
    def of(cls, message: protocol.ServerMessage) -> Outgoing:
        """Encode a server message."""
        return cls(_EVENTS[type(message)], protocol.encoder.encode(message), getattr(message, "rev", None))

    def ws(self) -> bytes:
        """The WebSocket text frame."""
        if self._ws is None:
            self._ws = ws_frame(self.json)
        return self._ws

    def sse(self) -> bytes:
        """The SSE event as an HTTP chunk (``id:`` only on snapshots and deltas)."""
        if self._sse is None:
            self._sse = http_chunk(sse_event(self.event, self.json, self.rev))
        return self._sse


SSE_PING_CHUNK = http_chunk(SSE_PING)
#: the SSE event name of each message: its JSON ``type`` tag
_EVENTS: dict[type, str] = {t: t.__struct_config__.tag for t in protocol.ServerMessage.__args__}  # type: ignore[attr-defined]

__all__ = ["SSE_PING_CHUNK", "Outgoing", "http_chunk", "sse_event", "ws_frame"]

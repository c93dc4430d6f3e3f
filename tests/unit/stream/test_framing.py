"""Frames and SSE chunks built once per message."""

from __future__ import annotations

import json

from equilibrium_node.stream.framing import Outgoing, http_chunk, sse_event, ws_frame
from equilibrium_node.stream.protocol import Delta, Status
from tests.support.streams import parse_frames


def test_ws_frames_round_trip_at_every_length_encoding():
    for n in (0, 125, 126, 65535, 65536, 200_000):
        payload = bytes(range(256)) * (n // 256) + b"x" * (n % 256)
        frame = ws_frame(payload)
        assert frame[0] == 0x81 and parse_frames(frame) == [(1, payload)]


def test_sse_event_and_chunk():
    event = sse_event("delta", b'{"a":1}', 42)
    assert event == b'id: 42\nevent: delta\ndata: {"a":1}\n\n'
    assert sse_event("status", b"{}") == b"event: status\ndata: {}\n\n"
    assert http_chunk(b"hello") == b"5\r\nhello\r\n"


def test_outgoing_encodes_once_and_frames_lazily():
    out = Outgoing.of(Delta(rev=9, cells=[], removed=["abc"], last_updated=None))
    assert out.event == "delta" and out.rev == 9
    assert json.loads(out.json) == {"type": "delta", "rev": 9, "cells": [], "removed": ["abc"], "last_updated": None}
    assert out.ws() is out.ws()  # built once, shared by every connection
    assert out.sse().startswith(b"%x\r\nid: 9\nevent: delta\n" % len(sse_event("delta", out.json, 9)))
    status = Outgoing.of(Status(degraded=True))
    assert status.rev is None and b"id:" not in status.sse()

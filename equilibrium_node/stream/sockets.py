"""Socket options of stream connections: bounded kernel buffers and a kernel-side dead-peer timeout."""

from __future__ import annotations

import asyncio
import contextlib
import socket

#: kernel send buffer of a stream socket (Linux doubles it). Autotuning would let one stalled client pin
#: up to 4 MB of kernel memory; heatmap deltas are small, and a big snapshot just takes a few round trips.
SEND_BUFFER_BYTES = 256 * 1024


def tune_stream_socket(transport: asyncio.BaseTransport, user_timeout_s: float) -> None:
    """Cap the kernel send buffer, and let the kernel drop the peer when data stays unacknowledged.

    The TCP user timeout finds a phone that vanished without a FIN or RST (an SSE peer cannot answer
    pings, and a dead peer would otherwise hold its socket until TCP's own ~15 min retry limit).
    Both are best effort: a platform without the option keeps its defaults.
    """
    sock = transport.get_extra_info("socket")
    if sock is None:
        return
    with contextlib.suppress(OSError, AttributeError, TypeError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
    option = getattr(socket, "TCP_USER_TIMEOUT", None)
    if option is not None:
        with contextlib.suppress(OSError, AttributeError, TypeError):
            sock.setsockopt(socket.IPPROTO_TCP, option, int(user_timeout_s * 1000))


__all__ = ["SEND_BUFFER_BYTES", "tune_stream_socket"]

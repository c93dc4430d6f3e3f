"""Shared fixtures: a real nats-server per test (or module), and a connected client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from nats.aio.client import Client

from equilibrium_node.__main__ import BUNDLED_CONFIG
from equilibrium_node.bus.embedded import EmbeddedNatsServer
from equilibrium_node.settings import Settings, load_settings
from tests.support.natsd import running_nats


@pytest.fixture
async def nats_server(tmp_path) -> AsyncIterator[EmbeddedNatsServer]:
    """A JetStream nats-server on a free port with a temporary store, ready for clients."""
    async with running_nats(tmp_path / "nats") as server:
        yield server


@pytest.fixture
async def nats_client(nats_server) -> AsyncIterator[tuple[Client, object]]:
    """(client, jetstream) connected to :func:`nats_server`."""
    nc = Client()
    await nc.connect(nats_server.url, max_reconnect_attempts=2, reconnect_time_wait=0.2)
    try:
        yield nc, nc.jetstream()
    finally:
        await nc.close()


@pytest.fixture
def sf_settings() -> Settings:
    """The bundled San Francisco config, without environment overrides."""
    return load_settings(BUNDLED_CONFIG, env={})

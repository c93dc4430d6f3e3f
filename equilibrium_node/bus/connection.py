"""Connecting to NATS: servers, reconnects, auth (user/password, token, creds) and TLS from config.

The connection's liveness is mirrored into :class:`BusStatus` (and the ``eq_nats_connected`` gauge),
which ``/readyz`` and the degraded-mode logic read without touching the client.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field

from nats.aio.client import Client
from nats.js import JetStreamContext

from ..errors import StartupError
from ..logs import get_logger
from ..metrics import Metrics
from ..settings import NatsSettings

log = get_logger(__name__)


@dataclass
class BusStatus:
    """Live connection state shared with health checks."""

    connected: bool = False
    reconnects: int = 0
    last_error: str = ""
    server: str = ""
    changed: asyncio.Event = field(default_factory=asyncio.Event)


def tls_context(cfg: NatsSettings) -> ssl.SSLContext | None:
    """An SSL context from the TLS options, or None when none is set and no URL says tls://."""
    wants_tls = any(u.strip().startswith("tls://") for u in cfg.url.split(","))
    if not (cfg.tls_ca_file or cfg.tls_cert_file or wants_tls):
        return None
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cfg.tls_ca_file or None)
    if cfg.tls_cert_file:
        ctx.load_cert_chain(cfg.tls_cert_file, cfg.tls_key_file or None)
    return ctx


def server_list(url: str) -> list[str]:
    """Comma-separated URLs to a list; bare host:port gets nats://."""
    servers = []
    for part in url.split(","):
        part = part.strip()
        if part:
            servers.append(part if "://" in part else f"nats://{part}")
    return servers


async def connect(cfg: NatsSettings, url: str, *, name: str, metrics: Metrics | None = None,
                  status: BusStatus | None = None, initial_attempts: int = 3) -> tuple[Client, JetStreamContext]:
    """Connect with reconnects forever (by default) and return the client and its JetStream context.

    The first connection is tried ``initial_attempts`` times; failing that is a :class:`StartupError`.
    """
    status = status or BusStatus()

    async def on_error(exc: Exception) -> None:
        status.last_error = f"{type(exc).__name__}: {exc}"
        log.warning("nats_error", error=status.last_error)

    async def on_disconnect() -> None:
        status.connected = False
        status.changed.set()
        if metrics:
            metrics.nats_connected.set(0)
        if nc.is_closed or nc.is_draining:  # our own close at shutdown, not a lost connection
            log.info("nats_closed")
        else:
            log.warning("nats_disconnected")

    async def on_reconnect() -> None:
        status.connected = True
        status.reconnects += 1
        status.server = str(nc.connected_url.netloc if nc.connected_url else "")
        status.changed.set()
        if metrics:
            metrics.nats_connected.set(1)
            metrics.nats_reconnects.inc()
        log.info("nats_reconnected", server=status.server)

    async def on_closed() -> None:
        status.connected = False
        status.changed.set()
        if metrics:
            metrics.nats_connected.set(0)

    options: dict = dict(
        servers=server_list(url), name=name, connect_timeout=cfg.connect_timeout_s,
        reconnect_time_wait=cfg.reconnect_wait_s, max_reconnect_attempts=cfg.max_reconnect_attempts,
        error_cb=on_error, disconnected_cb=on_disconnect, reconnected_cb=on_reconnect, closed_cb=on_closed,
        ping_interval=10, max_outstanding_pings=3, pending_size=64 * 1024 * 1024,
        tls=tls_context(cfg), tls_hostname=cfg.tls_hostname or None, tls_handshake_first=cfg.tls_handshake_first,
    )
    if cfg.user:
        options.update(user=cfg.user, password=cfg.password)
    if cfg.token:
        options["token"] = cfg.token
    if cfg.creds_file:
        options["user_credentials"] = cfg.creds_file
    last: Exception | None = None
    for attempt in range(1, initial_attempts + 1):
        nc = Client()
        try:
            await nc.connect(**options)
            break
        except Exception as exc:  # nats-py raises several unrelated types here
            last = exc
            log.warning("nats_connect_failed", attempt=attempt, error=f"{type(exc).__name__}: {exc}")
            await nc.close()
            await asyncio.sleep(min(cfg.reconnect_wait_s, 1.0))
    else:
        raise StartupError(f"cannot connect to NATS at {url}: {type(last).__name__}: {last}")
    status.connected = True
    status.server = str(nc.connected_url.netloc if nc.connected_url else url)
    status.changed.set()
    if metrics:
        metrics.nats_connected.set(1)
    js = nc.jetstream(timeout=cfg.request_timeout_s)
    return nc, js


async def wait_jetstream(js: JetStreamContext, timeout_s: float = 15.0) -> None:
    """Wait until JetStream answers (a fresh or recovering server may take a moment)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        try:
            await js.account_info()
            return
        except Exception as exc:
            if asyncio.get_running_loop().time() > deadline:
                raise StartupError(f"JetStream is not available: {type(exc).__name__}: {exc}") from None
            await asyncio.sleep(0.2)


__all__ = ["BusStatus", "connect", "server_list", "tls_context", "wait_jetstream"]

"""The aiohttp application: parts assembled into routes, middlewares, OpenAPI; and the HTTP server service.

``build_app`` takes :class:`ApiPart` objects (each holding only the dependencies it needs) and
registers their endpoints; the OpenAPI part then documents exactly those endpoints. Request bodies
are capped at 64 KiB by aiohttp itself (413 before the handler runs).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web

from ..errors import EquilibriumError, StartupError
from ..logs import get_logger
from ..metrics import Metrics
from .endpoint import ApiPart, Endpoint
from .errors import error_middleware
from .openapi import OpenApiPart

log = get_logger(__name__)

MAX_BODY_BYTES = 64 * 1024
METRICS_KEY = web.AppKey("metrics", Metrics)
ENDPOINTS_KEY = web.AppKey("endpoints", list)


def _timing_middleware(metrics: Metrics, streaming: frozenset[str]):
    children: dict[str, object] = {}

    @web.middleware
    async def timing(request: web.Request, handler):
        resource = request.match_info.route.resource
        label = resource.canonical if resource is not None else "unmatched"
        if label in streaming:
            return await handler(request)
        start = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        except EquilibriumError as exc:  # rendered by the (outer) error middleware with its own status
            status = exc.status if 400 <= exc.status < 600 else 500
            raise
        finally:
            child = children.get(label)
            if child is None:
                child = children[label] = metrics.http_request_seconds.labels(route=label)
            child.observe(time.perf_counter() - start)  # type: ignore[attr-defined]
            metrics.http_responses.labels(route=label, status=f"{status // 100}xx").inc()

    return timing


def build_app(parts: Sequence[ApiPart], metrics: Metrics, *, title: str = "Equilibrium node",
              description: str = "Real-time surge pricing for one region.",
              on_shutdown: Sequence[Callable[[web.Application], Awaitable[None]]] = ()) -> web.Application:
    """An aiohttp app serving every endpoint of ``parts`` plus ``/api/v1/openapi.json``."""
    openapi = OpenApiPart(title, description)
    endpoints: list[Endpoint] = []
    for part in (*parts, openapi):
        endpoints.extend(part.endpoints())
    streaming = frozenset(ep.path for ep in endpoints if ep.streaming)
    app = web.Application(client_max_size=MAX_BODY_BYTES,
                          middlewares=[error_middleware, _timing_middleware(metrics, streaming)])
    app[METRICS_KEY] = metrics
    app[ENDPOINTS_KEY] = endpoints
    seen: set[tuple[str, str]] = set()
    for ep in endpoints:
        key = (ep.method, ep.path)
        if key in seen:
            raise ValueError(f"endpoint declared twice: {ep.method} {ep.path}")
        seen.add(key)
        app.router.add_route(ep.method, ep.path, ep.handler, name=None)
    openapi.bind([ep for ep in endpoints if not ep.path.startswith("/static")])
    for hook in on_shutdown:
        app.on_shutdown.append(hook)
    return app


class HttpServer:
    """Serves an app on host:port until stopped (a node service)."""

    name = "http"

    def __init__(self, app: web.Application, host: str, port: int, shutdown_timeout_s: float = 3.0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                     shutdown_timeout=shutdown_timeout_s)
        self._stopped = asyncio.Event()
        self.bound_port = 0

    async def start(self) -> None:
        """Bind the socket; a taken port is a one-line :class:`StartupError`."""
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, backlog=2048, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            raise StartupError(f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc} "
                               "(set --http / EQ_HTTP)") from None
        sockets = self._runner.addresses
        self.bound_port = sockets[0][1] if sockets else self.port
        log.info("http_listening", address=f"http://{self.host}:{self.bound_port}")

    async def run(self) -> None:
        """Serve until :meth:`stop`."""
        await self._stopped.wait()

    async def stop(self) -> None:
        """Stop accepting, give in-flight requests a moment, close."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        await self._runner.cleanup()

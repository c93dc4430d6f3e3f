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

from ..errors import StartupError
from ..logs import get_logger
from ..metrics import Metrics
from .endpoint import ApiPart, Endpoint
from .errors import render_error
from .openapi import OpenApiPart

log = get_logger(__name__)

MAX_BODY_BYTES = 64 * 1024
METRICS_KEY = web.AppKey("metrics", Metrics)
ENDPOINTS_KEY = web.AppKey("endpoints", list)


def _serving_middleware(metrics: Metrics, streaming: frozenset[str]):
    """Times every request (``eq_http_request_seconds{route}``, ``eq_http_responses_total``) and renders
    every error as the contract's body, in one middleware layer: a quote pays one wrapper, not two."""
    timers: dict[str, object] = {}
    counters: dict[tuple[str, int], object] = {}

    def record(label: str, status: int, seconds: float) -> None:
        timer = timers.get(label)
        if timer is None:
            timer = timers[label] = metrics.http_request_seconds.labels(route=label)
        timer.observe(seconds)  # type: ignore[attr-defined]
        status_class = status // 100
        counter = counters.get((label, status_class))
        if counter is None:
            counter = counters[label, status_class] = metrics.http_responses.labels(
                route=label, status=f"{status_class}xx")
        counter.inc()  # type: ignore[attr-defined]

    @web.middleware
    async def serving(request: web.Request, handler):
        resource = request.match_info.route.resource
        label = resource.canonical if resource is not None else "unmatched"
        if label in streaming:  # a stream lives for hours: its duration is not a request latency
            try:
                return await handler(request)
            except Exception as exc:
                return render_error(request, exc)
        start = time.perf_counter()
        try:
            response = await handler(request)
        except Exception as exc:
            response = render_error(request, exc)
        record(label, response.status, time.perf_counter() - start)
        return response

    return serving


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
                          middlewares=[_serving_middleware(metrics, streaming)])
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

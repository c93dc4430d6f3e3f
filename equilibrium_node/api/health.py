"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import msgspec
from aiohttp import web

from ..metrics import Metrics
from ..status import NodeStatus, Readiness
from .endpoint import ApiPart, Endpoint, json_response


class Liveness(msgspec.Struct, frozen=True):
    """Body of ``GET /healthz``."""

    status: str
    node_id: str
    region: str


class HealthApi(ApiPart):
    """``/healthz``, ``/readyz``, ``/metrics``."""

    def __init__(self, status: NodeStatus, metrics: Metrics) -> None:
        self.status = status
        self.metrics = metrics

    async def healthz(self, _request: web.Request) -> web.Response:
        """The process is alive and its event loop answers."""
        return json_response(Liveness(status="ok", node_id=self.status.node_id, region=self.status.region))

    async def readyz(self, _request: web.Request) -> web.Response:
        """200 when the node can serve, 503 (same body) when not."""
        readiness = self.status.readiness()
        return json_response(readiness, status=200 if readiness.ready else 503)

    async def metrics_text(self, _request: web.Request) -> web.Response:
        """Prometheus text exposition."""
        self.metrics.degraded.set(1 if self.status.degraded else 0)
        self.metrics.leader.set(1 if self.status.role == "leader" else 0)
        return web.Response(text=self.metrics.render(), content_type="text/plain", charset="utf-8",
                            headers={"X-Content-Type-Options": "nosniff"})

    def endpoints(self) -> list[Endpoint]:
        """Health endpoints."""
        return [
            Endpoint("GET", "/healthz", self.healthz, "Liveness.", tags=("health",),
                     responses={200: (Liveness, "The process is alive.")}),
            Endpoint("GET", "/readyz", self.readyz, "Readiness: NATS connected, state loaded, role, degraded.",
                     tags=("health",), responses={200: (Readiness, "Ready."), 503: (Readiness, "Not ready.")}),
            Endpoint("GET", "/metrics", self.metrics_text, "Prometheus metrics.", tags=("health",),
                     content_type="text/plain", responses={200: ({"type": "string"}, "Prometheus text format.")}),
        ]

"""The region's node group as NATS holds it (admin): who leads, with which term, and every live node.

``GET /api/v1/admin/cluster`` reads the ``leader`` lease and the ``node.<id>`` heartbeats of KV
``eq_<region>_nodes`` at request time, so any node answers the same. 503 ``unavailable`` when NATS
cannot be read.
"""

from __future__ import annotations

import time

import msgspec
from aiohttp import web
from nats.js import JetStreamContext

from ..bus.names import RegionNames
from ..cluster.heartbeat import NodeInfo, read_nodes
from ..cluster.lease import LeaderLease
from ..errors import ApiError, Code
from ..logs import get_logger
from .auth import AdminAuth
from .endpoint import ApiPart, Endpoint, json_response
from .errors import ErrorBody

log = get_logger(__name__)


class LeaderView(msgspec.Struct, frozen=True, kw_only=True):
    """The current lease."""

    node_id: str
    http: str
    term: int
    acquired_at: float
    renewed_at: float


class ClusterNode(msgspec.Struct, frozen=True, kw_only=True):
    """One live node: its latest heartbeat and how old it is."""

    node_id: str
    role: str
    http: str
    started_at: float
    beat_at: float
    age_s: float
    version: str
    leader_term: int


class ClusterView(msgspec.Struct, frozen=True, kw_only=True):
    """Body of ``GET /api/v1/admin/cluster``."""

    region: str
    leader: LeaderView | None
    nodes: list[ClusterNode]


def _node(info: NodeInfo, now: float) -> ClusterNode:
    return ClusterNode(node_id=info.node_id, role=info.role, http=info.http, started_at=info.started_at,
                       beat_at=info.beat_at, age_s=round(max(0.0, now - info.beat_at), 3), version=info.version,
                       leader_term=info.leader_term)


class ClusterApi(ApiPart):
    """Leader and nodes of the region (admin token)."""

    def __init__(self, js: JetStreamContext, names: RegionNames, lease: LeaderLease, auth: AdminAuth) -> None:
        self.js = js
        self.names = names
        self.lease = lease
        self.auth = auth

    async def cluster(self, request: web.Request) -> web.Response:
        """The lease and the live heartbeats."""
        self.auth.check(request)
        try:
            state = await self.lease.read()
            nodes = await read_nodes(self.js, self.names)
        except Exception as exc:
            log.warning("cluster_read_failed", error=f"{type(exc).__name__}: {exc}")
            raise ApiError(f"cannot read the nodes bucket now: {type(exc).__name__}", code=Code.UNAVAILABLE,
                           status=503) from None
        leader = None
        if not state.free and state.record is not None:
            r = state.record
            leader = LeaderView(node_id=r.node_id, http=r.http, term=state.term, acquired_at=r.acquired_at,
                                renewed_at=r.renewed_at)
        now = time.time()
        return json_response(ClusterView(region=self.names.region, leader=leader,
                                         nodes=[_node(n, now) for n in nodes]))

    def endpoints(self) -> list[Endpoint]:
        """The cluster endpoint."""
        return [
            Endpoint("GET", "/api/v1/admin/cluster", self.cluster,
                     "The region's leader (lease, term) and live nodes (heartbeats).", tags=("admin",), auth="admin",
                     responses={200: (ClusterView, "Leader and nodes."),
                                503: (ErrorBody, "NATS cannot be read now (`unavailable`).")}),
        ]


__all__ = ["ClusterApi", "ClusterView"]

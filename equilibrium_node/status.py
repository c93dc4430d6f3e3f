"""The node's live status: role, NATS connection, state loaded, degraded. Read by ``/readyz`` and ``/metrics``.

Components write their part (the market sets ``state_loaded``, the lease sets ``role``, the quote
path sets ``degraded``); nobody else needs a reference to those components to know how the node is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

import msgspec

from .bus.connection import BusStatus

Role = Literal["starting", "leader", "follower", "stopping"]


class Readiness(msgspec.Struct, frozen=True):
    """Body of ``GET /readyz``."""

    ready: bool
    nats_connected: bool
    role: str
    state_loaded: bool
    degraded: bool
    region: str
    node_id: str
    version: str
    uptime_s: float
    reasons: list[str]
    #: node id of the region's leader as this node last saw it ("" when none is known)
    leader_id: str = ""
    #: the leader's lease term (fencing token); 0 when none is known
    leader_term: int = 0


@dataclass
class NodeStatus:
    """Mutable status shared by the node's components."""

    region: str
    node_id: str
    version: str
    mode: str = "run"
    role: Role = "starting"
    state_loaded: bool = False
    degraded: bool = False
    http_address: str = ""
    #: the region's leader as last seen in the lease (this node's own id while it leads)
    leader_id: str = ""
    leader_term: int = 0
    bus: BusStatus = field(default_factory=BusStatus)
    started_at: float = field(default_factory=time.time)
    started_monotonic: float = field(default_factory=time.monotonic)
    #: Monotonic time of the latest evidence that the region's pricing leader is alive: this node's own
    #: tick when it leads, the leader's lease renewal when it follows. 0 = never. Degraded mode reads it.
    last_pricing_monotonic: float = 0.0

    def readiness(self) -> Readiness:
        """Ready means: connected to NATS, state (or, on a follower, the served prices) loaded, not stopping."""
        reasons = []
        if not self.bus.connected:
            reasons.append("nats_disconnected")
        if not self.state_loaded:
            reasons.append("state_not_loaded")
        if self.role in ("starting", "stopping"):
            reasons.append(f"role_{self.role}")
        return Readiness(
            ready=not reasons, nats_connected=self.bus.connected, role=self.role, state_loaded=self.state_loaded,
            degraded=self.degraded, region=self.region, node_id=self.node_id, version=self.version,
            uptime_s=round(time.monotonic() - self.started_monotonic, 3), reasons=reasons,
            leader_id=self.leader_id, leader_term=self.leader_term,
        )

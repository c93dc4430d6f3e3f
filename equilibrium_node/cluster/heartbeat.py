"""Node heartbeats: every node writes ``node.<node_id>`` in KV ``eq_<region>_nodes`` every ``cluster.heartbeat_s``.

The value (:class:`NodeInfo`) says who the node is, its role, where its HTTP API answers
(``cluster.advertise``, else the bound address) and since when it runs; a change of role is written
at once. The bucket's max age
(``cluster.lease_ttl_s``) removes the key of a node that stopped beating; a node that shuts down
deletes its own key. :func:`read_nodes` lists the live nodes of the region (the admin cluster API).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import msgspec
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, NoKeysError

from ..bus.kv_wire import KV_OPERATION
from ..bus.names import RegionNames
from ..logs import get_logger
from ..metrics import Metrics
from ..status import NodeStatus

log = get_logger(__name__)

NODE_PREFIX = "node."
#: how often a role change is looked for between beats
ROLE_CHECK_S = 0.1


class NodeInfo(msgspec.Struct, frozen=True, kw_only=True):
    """The value of ``node.<node_id>``: one node of the region as it last reported itself."""

    node_id: str
    region: str
    role: str
    http: str
    started_at: float
    beat_at: float
    version: str = ""
    #: the lease term while this node leads (0 otherwise)
    leader_term: int = 0


_info_decoder = msgspec.json.Decoder(NodeInfo)
_encoder = msgspec.json.Encoder()


def node_key(node_id: str) -> str:
    """KV key of a node's heartbeat."""
    return f"{NODE_PREFIX}{node_id}"


class Heartbeats:
    """Writes this node's heartbeat until stopped, then deletes it (a node service)."""

    name = "heartbeat"

    def __init__(self, js: JetStreamContext, names: RegionNames, status: NodeStatus, metrics: Metrics, *,
                 interval_s: float, http: Callable[[], str], timeout_s: float = 5.0) -> None:
        self.js = js
        self.names = names
        self.status = status
        self.metrics = metrics
        self.interval_s = interval_s
        self.http = http
        self.timeout_s = min(timeout_s, max(0.5, interval_s))
        self.subject = f"$KV.{names.nodes_bucket}.{node_key(status.node_id)}"
        self.beats = 0
        self._failing = False
        self._stop = asyncio.Event()

    def info(self) -> NodeInfo:
        """This node now."""
        s = self.status
        return NodeInfo(node_id=s.node_id, region=s.region, role=s.role, http=self.http(), started_at=s.started_at,
                        beat_at=time.time(), version=s.version,
                        leader_term=s.leader_term if s.role == "leader" else 0)

    async def beat(self) -> bool:
        """Write the heartbeat once; False (logged once per outage, counted) when it could not be written."""
        try:
            await self.js.publish(self.subject, _encoder.encode(self.info()), timeout=self.timeout_s)
        except Exception as exc:
            self.metrics.heartbeat_failures.inc()
            if not self._failing:
                log.warning("heartbeat_failed", error=f"{type(exc).__name__}: {exc}")
            self._failing = True
            return False
        self._failing = False
        self.beats += 1
        return True

    async def run(self) -> None:
        """Beat every ``interval_s``, and at once when the node's role changes, until stopped."""
        loop = asyncio.get_running_loop()
        while not self._stop.is_set():
            said = (self.status.role, self.status.leader_term)
            await self.beat()
            due = loop.time() + self.interval_s
            while not self._stop.is_set() and loop.time() < due and (self.status.role,
                                                                       self.status.leader_term) == said:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), min(ROLE_CHECK_S, max(0.0, due - loop.time())))

    async def stop(self) -> None:
        """Stop beating and delete the heartbeat (the node leaves the region's list at once)."""
        if self._stop.is_set():
            return
        self._stop.set()
        with contextlib.suppress(Exception):
            await self.js.publish(self.subject, b"", timeout=self.timeout_s, headers={KV_OPERATION: "DEL"})


async def read_nodes(js: JetStreamContext, names: RegionNames) -> list[NodeInfo]:
    """The region's nodes whose heartbeat has not expired, by node id."""
    kv = await js.key_value(names.nodes_bucket)
    try:
        keys = await kv.keys()
    except NoKeysError:
        return []
    nodes = []
    for key in sorted(k for k in keys if k.startswith(NODE_PREFIX)):
        with contextlib.suppress(KeyNotFoundError, msgspec.DecodeError, msgspec.ValidationError):
            entry = await kv.get(key)
            if entry.value:
                nodes.append(_info_decoder.decode(entry.value))
    return nodes


__all__ = ["Heartbeats", "NodeInfo", "node_key", "read_nodes"]

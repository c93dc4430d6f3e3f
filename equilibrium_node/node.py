"""The composition root: builds every component of a node from the settings and runs them.

Start-up order: NATS (embedded server or cluster), provisioning, live config, served prices, HTTP,
then the role controller decides the node's role from the leader lease (``cluster/``).
Every long-running part is a :class:`~equilibrium_node.service.Service` run under one TaskGroup.
The region's leader runs :meth:`Node.leader_services` on top (intake, pricing, checkpoints: built fresh
for each lease term); a follower runs :meth:`Node.follower_services` (the stream tailed read-only).
Every node serves every read API and stream from the surge bucket and heartbeats.

Shutdown order is explicit and bounded (SIGTERM to exit within 10 s): readiness goes 503; a leader
stops its intake, prices no more, writes its final checkpoint and releases the lease (a follower takes
over at once); stream clients and HTTP are drained, watchers stop, the heartbeat is deleted, NATS is
drained, the embedded server stops last.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from nats.aio.client import Client
from nats.js import JetStreamContext

from . import __version__
from .analytics.publisher import SnapshotPublisher
from .analytics.rollup import ZoneRollup
from .analytics.tail import RollupTail
from .api.admin import AdminApi
from .api.analytics import AnalyticsApi
from .api.app import HttpServer, build_app
from .api.auth import AdminAuth
from .api.cluster import ClusterApi
from .api.driver import DriverApi
from .api.explain import ExplainApi
from .api.health import HealthApi
from .api.heatmap import HeatmapApi
from .api.market import MarketApi
from .api.quotes import QuotesApi
from .api.region import RegionApi
from .api.static import StaticApi
from .bus.connection import connect, wait_jetstream
from .bus.embedded import EmbeddedNatsServer
from .bus.names import RegionNames
from .bus.provision import ProvisionReport, provision
from .cluster.heartbeat import Heartbeats
from .cluster.lease import LeaderLease
from .cluster.repair import StaleWriteRepair
from .cluster.roles import RoleController
from .errors import ConfigError
from .intake.service import Intake
from .live_config import ConfigStore
from .logs import get_logger, set_context
from .market.checkpoint import Checkpointer, CheckpointStore, refuse_writes
from .market.state import MarketState
from .metrics import Metrics
from .pricing.core import PricingCore
from .pricing.engine import PricingEngine
from .pricing.registry import AlgorithmRegistry
from .publish.history import RollupStore
from .publish.writer import LeaderWriter
from .quotes.demand import DemandPublisher
from .quotes.ledger import AcceptLedger
from .quotes.quoter import Quoter
from .quotes.token import QuoteSigner
from .service import Service
from .serving.degraded import FreshnessMonitor
from .serving.surge_view import SurgeView
from .serving.zone_summary import ZoneCentres
from .settings import Settings
from .status import NodeStatus
from .stream.api import StreamApi
from .stream.hub import StreamHub

log = get_logger(__name__)

SHUTDOWN_BUDGET_S = 8.0


def tune_gc() -> None:
    """Move everything built at start-up out of the collector's sight (``gc.freeze``).

    CPython's full collections walk every tracked object; after start-up most of them are the node's
    long-lived tables (zones, S2 lookups, plugins, the restored market), so each full collection held
    the loop for tens of milliseconds. Measured with ``benchmarks/quote.py``: quote p99 under load
    41.9 ms without, 16.2 ms with. Raising the young-generation threshold as well was tried and left
    out: it did not help quotes further and doubled the fan-out p99 (54 -> 103 ms, ``benchmarks/fanout.py``).
    """
    gc.collect()
    gc.freeze()


def default_node_id() -> str:
    """``<hostname>-<pid>``, reduced to the characters a node id may hold."""
    host = re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname())[:40] or "node"
    return f"{host}-{os.getpid()}"


@dataclass
class Node:
    """One equilibrium node of one region."""

    settings: Settings
    mode: str = "run"  # "run" | "demo"
    metrics: Metrics = field(default_factory=Metrics)

    def __post_init__(self) -> None:
        s = self.settings
        self.node_id = s.node_id or default_node_id()
        self.names = RegionNames(s.region)
        self.status = NodeStatus(region=s.region, node_id=self.node_id, version=__version__, mode=self.mode)
        self.embedded: EmbeddedNatsServer | None = None
        self.nc: Client | None = None
        #: the NATS server(s) this node connected to (the embedded server's URL in demo)
        self.nats_url = ""
        self.js: JetStreamContext | None = None
        self.provision_report: ProvisionReport | None = None
        self.http: HttpServer | None = None
        self.services: list[Service] = []
        #: services added from outside before run() (the demo's traffic and console)
        self.extra_services: list[Service] = []
        self.ready = asyncio.Event()
        self.registry = AlgorithmRegistry()
        set_context(node=self.node_id, region=s.region)
        self.metrics.build_info.labels(version=__version__, region=s.region, node_id=self.node_id).set(1)

    # start-up ---------------------------------------------------------------------------------------
    def check_secrets(self) -> None:
        """Outside demo, a node without a quote secret refuses to start."""
        if self.mode != "demo" and not self.settings.quote.secret:
            raise ConfigError("required outside demo: set EQ_QUOTE_SECRET (or [quote] secret in the config file)",
                              field="quote.secret", source="environment EQ_QUOTE_SECRET")

    async def connect_bus(self) -> None:
        """Start the embedded server if no URL is configured, connect, wait for JetStream."""
        s = self.settings
        url = s.nats.url
        if not url:
            if s.nats.replicas != 1 and not s.nats.embedded_config:
                raise ConfigError("replicas = 3 needs a NATS cluster: set nats.url (EQ_NATS_URL)",
                                  field="nats.replicas", source="config")
            self.embedded = EmbeddedNatsServer(
                s.data_dir, host=s.nats.embedded_host, port=s.nats.embedded_port, name=f"eq-{s.region}-embedded",
                config_file=s.nats.embedded_config, ready_timeout_s=s.nats.embedded_ready_timeout_s)
            url = await self.embedded.start()
        self.nats_url = url
        self.nc, self.js = await connect(s.nats, url, name=f"eq-{s.region}-{self.node_id}", metrics=self.metrics,
                                         status=self.status.bus)
        await wait_jetstream(self.js, timeout_s=max(15.0, s.nats.connect_timeout_s * 3))

    async def _build(self) -> None:
        """Create every component and service (NATS is up and provisioned)."""
        assert self.js is not None
        s = self.settings
        self.config_store = ConfigStore(s.region, s.cell_level, s, kv=await self.js.key_value(self.names.config_bucket))
        self.registry.install(self.config_store)  # unknown algorithms in KV are rejected, old config stays
        await self.config_store.seed()
        await self.config_store.start()
        self.surge_view = SurgeView(self.js, self.names.surge_bucket)
        # the hub listens before the watch starts, so its resume ring sees the initial replay too
        self.streams = StreamHub(self.surge_view, s.push, tick_s=s.pricing.tick_s, cell_level=s.cell_level,
                                 vehicle_types=lambda: self.config_store.current.vehicle_types,
                                 status=self.status, metrics=self.metrics)
        await self.surge_view.start()
        self.admin_auth = AdminAuth(s.admin.token)
        self.state_kv = await self.js.key_value(self.names.state_bucket)
        self._build_market()
        self._build_cluster()
        self._build_pricing()
        self._build_analytics()
        parts = [HealthApi(self.status, self.metrics), StaticApi(),
                 MarketApi(self.market, self.admin_auth, s.cell_level, lambda: self.config_store.current),
                 ExplainApi(self.pricing_core, self.market, self.config_store, self.surge_view, s.cell_level),
                 *await self._rest_parts(), StreamApi(self.streams, s.push),
                 AnalyticsApi(self.analytics, self.admin_auth, lambda: self.config_store.current),
                 ClusterApi(self.js, self.names, self.lease, self.admin_auth)]
        app = build_app(parts, self.metrics, title=f"Equilibrium node ({s.region_name})")
        host, port = s.host_port
        self.http = HttpServer(app, host, port)
        self.services = [self.config_store, self.surge_view, self.cluster, self.freshness, self.demand, self.streams,
                         self.analytics, self.http, self.heartbeats, *self.extra_services]

    def _build_market(self) -> None:
        """The market state every node holds (the leader's from checkpoint + stream, a follower's tailed)."""
        self.market = MarketState(self.settings.market)
        self.metrics.cells_active.set_function(lambda: len(self.market.table.cells))

    def _build_cluster(self) -> None:
        """The leader lease, the role controller that runs this node's role, and its heartbeat."""
        assert self.nc is not None and self.js is not None
        s = self.settings
        nc = self.nc
        self.lease = LeaderLease(self.js, self.names, self.node_id, ttl_s=s.cluster.lease_ttl_s,
                                 timeout_s=s.nats.request_timeout_s, http=self.advertised_http,
                                 connected=lambda: nc.is_connected)
        # followers take a renewal as evidence of a live leader: renew well within pricing.stale_after_s too
        self.cluster = RoleController(self.lease, self.status, self.metrics, leader=self.leader_services,
                                      follower=self.follower_services, renew_s=s.pricing.stale_after_s / 2)
        self.heartbeats = Heartbeats(self.js, self.names, self.status, self.metrics,
                                     interval_s=s.cluster.heartbeat_s, http=self.advertised_http,
                                     timeout_s=s.nats.request_timeout_s)

    def _build_pricing(self) -> None:
        """The pricing core (explain reads it on every node) and the one fenced writer of the leader."""
        assert self.nc is not None and self.js is not None
        s = self.settings
        self.pricing_core = PricingCore(s.region, s.timezone, s.pricing, self.registry)
        self.leader_writer = LeaderWriter(self.nc, self.js, in_flight=s.pricing.publish_in_flight,
                                          ack_timeout_s=s.nats.request_timeout_s)
        self.leader_writer.fence = self.lease.check  # no write without the lease (and a connection)
        self.leader_writer.headers = self.lease.headers  # the term on every stored write: the fencing token
        self.rollups = RollupStore(self.js, self.names, ZoneInfo(s.timezone))

    def _build_analytics(self) -> None:
        """The rolled-up history every node serves the analytics API from (the leader publishes the snapshots)."""
        assert self.js is not None
        s = self.settings
        # every node, leader or follower: tails EQ_SNAP and EQ_AUDIT into the rollup the analytics API reads
        span_s = max(s.streams.snapshot_max_age_s, s.streams.audit_max_age_s)
        for name, age_s in (("streams.snapshot_max_age_s", s.streams.snapshot_max_age_s),
                            ("streams.audit_max_age_s", s.streams.audit_max_age_s)):
            if age_s < 60 * 86_400:  # allowed, but the analytics and the 60-day cap rule see less than 60 days
                log.warning("retention_under_60_days", setting=name, days=round(age_s / 86_400, 1))
        self.analytics = RollupTail(self.js, self.names, ZoneRollup(span_s, s.snapshot.detail_span_s), self.metrics,
                                    gate=self.ready.is_set)

    def advertised_http(self) -> str:
        """Where other nodes and proxies reach this node's HTTP API (``cluster.advertise``, else the bind)."""
        if self.settings.cluster.advertise:
            return self.settings.cluster.advertise
        address = self.status.http_address
        for wildcard in ("//0.0.0.0:", "//[::]:", "//:"):
            address = address.replace(wildcard, f"//{socket.gethostname()}:")
        return address

    # roles ------------------------------------------------------------------------------------------
    async def leader_services(self) -> list[Service]:
        """The leader-only services of one lease term: THE place to declare one (one line each).

        The role controller builds them when this node gains the lease and stops them in this order
        when it loses it (every write then refused by the fence: a deposed leader writes nothing) or
        shuts down (final checkpoint, then the lease is released). They write through
        ``self.leader_writer`` (fenced, term header) or, for checkpoints, a fenced store.
        """
        intake, checkpointer = await self._restore_market(leader=True)
        return [
            intake,  # from the newest checkpoint's sequence + 1; copies rejects to the DLQ
            self._pricing_engine(ready=intake.loaded.is_set),
            StaleWriteRepair(self.surge_view, self.pricing_core, lambda: self.lease.term),
            self._snapshot_publisher(ready=intake.loaded.is_set),  # zone snapshots + quote funnel
            checkpointer,  # after the intake: the final checkpoint holds everything applied
        ]

    async def follower_services(self) -> list[Service]:
        """A follower's own services: the location stream tailed read-only, so the market API, the driver
        heatmap and explain answer on every node (prices, quotes and streams come from the surge bucket)."""
        self.pricing_core.reset()  # a former leader's timers and ramps would only mislead explain here
        intake, _checkpointer = await self._restore_market(leader=False)
        return [intake]

    async def _restore_market(self, *, leader: bool) -> tuple[Intake, Checkpointer]:
        """Prepare the market for a role: a leader restores the newest checkpoint and consumes from its
        sequence + 1 (DLQ on); a follower keeps what it holds (or starts from the checkpoint when empty)
        and tails from there, read-only."""
        assert self.nc is not None and self.js is not None
        s = self.settings
        lease = self.lease
        store = CheckpointStore(self.state_kv, chunk_bytes=s.market.checkpoint_chunk_bytes, node_id=self.node_id,
                                fence=lease.check if leader else refuse_writes, term=lambda: lease.term)
        checkpointer = Checkpointer(self.market, store, interval_s=s.market.checkpoint_interval_s,
                                    metrics=self.metrics)
        intake = Intake(self.nc, self.js, self.names, self.market, s.market, s.cell_level, self.metrics,
                        vehicle_types=lambda: self.config_store.current.vehicle_types, status=self.status,
                        publish_rejects=leader, fence=lease.check if leader else None)
        _first, last = await intake.stream_bounds()
        if leader or self.market.applied_seq == 0 or self.market.applied_seq > last:
            self.status.state_loaded = False
            self.market.reset()
            await checkpointer.load(stream_last_seq=last)
        await intake.prepare(self.market.applied_seq + 1)
        return intake, checkpointer

    def _pricing_engine(self, ready: Callable[[], bool]) -> PricingEngine:
        s = self.settings
        lease = self.lease
        return PricingEngine(
            self.pricing_core, self.market, self.config_store, self.leader_writer, self.names, metrics=self.metrics,
            status=self.status, tick_s=s.pricing.tick_s, surge_view=self.surge_view, rollups=self.rollups,
            gate=lambda: ready() and lease.held)  # no price from a half-replayed market, none without the lease

    def _snapshot_publisher(self, ready: Callable[[], bool]) -> SnapshotPublisher:
        """Zone snapshots and the quote funnel of one lease term, from the stored watermark on."""
        assert self.js is not None
        s = self.settings
        return SnapshotPublisher(
            self.js, self.names, self.market, self.surge_view, lambda: self.config_store.current, self.leader_writer,
            interval_s=s.snapshot.interval_s, cell_level=s.cell_level, metrics=self.metrics, gate=ready)

    async def _rest_parts(self) -> list:
        """Quotes, heatmaps and admin (issue 5), with the services they need (freshness, demand signals)."""
        assert self.nc is not None and self.js is not None
        s = self.settings
        self.freshness = FreshnessMonitor(self.status, self.metrics, s.pricing)
        self.freshness.check()
        self.demand = DemandPublisher(self.nc, self.names.rider_subject, self.metrics)
        signer = QuoteSigner(s.quote.secret, s.region)

        def config():
            return self.config_store.current

        def fresh():
            return self.freshness.state

        quoter = Quoter(s.region, s.cell_level, s.currency, s.timezone, s.quote, config, self.surge_view, fresh,
                        signer)
        ledger = AcceptLedger(self.nc, await self.js.key_value(self.names.quotes_bucket), self.node_id)
        centres = ZoneCentres()
        return [
            QuotesApi(quoter, signer, ledger, self.demand, self.metrics, self.node_id),
            HeatmapApi(s.cell_level, config, self.surge_view, fresh, centres),
            DriverApi(config, self.surge_view, fresh, s.driver, market=self.market, centres=centres,
                      cell_level=s.cell_level),
            AdminApi(self.config_store, self.admin_auth, s.region),
            RegionApi(s.region, s.region_name, s.timezone, s.currency, s.cell_level, s.map, config, centres),
        ]

    async def start(self) -> None:
        """Everything up to serving: NATS, provisioning, components, HTTP listening (:meth:`run` then starts the
        services; :attr:`ready` is set once the role controller has started this node's role)."""
        self.check_secrets()
        self.registry.check_settings(self.settings)  # an unknown algorithm stops start-up (exit 2)
        await self.connect_bus()
        assert self.js is not None
        self.provision_report = await provision(self.js, self.settings)
        self.metrics.provision_drift.set(len(self.provision_report.drift))
        await self._build()
        assert self.http is not None
        await self.http.start()
        host, _ = self.settings.host_port
        self.status.http_address = f"http://{host}:{self.http.bound_port}"
        await asyncio.wait_for(self.surge_view.loaded.wait(), 15.0)
        # role: set by the role controller from the lease; state_loaded: by the intake once caught up

    # running ----------------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Start, serve until ``stop`` is set, then shut down in order."""
        try:
            await self.start()
            async with asyncio.TaskGroup() as tg:
                for service in self.services:
                    tg.create_task(service.run(), name=service.name)
                waiter = tg.create_task(stop.wait(), name="stop-signal")
                role = tg.create_task(self.cluster.started.wait(), name="role-started")
                await asyncio.wait([waiter, role], return_when=asyncio.FIRST_COMPLETED)
                if role.done():  # ready: serving, with the services of its role running
                    tune_gc()
                    self.ready.set()
                    log.info("node_started", http=self.status.http_address, role=self.status.role, mode=self.mode,
                             version=__version__)
                else:
                    role.cancel()
                await waiter
                await self.shutdown()
        finally:
            await self.close()

    async def shutdown(self) -> None:
        """Stop services in order within the shutdown budget."""
        self.status.role = "stopping"
        log.info("node_stopping")
        try:
            async with asyncio.timeout(SHUTDOWN_BUDGET_S):
                for service in self._stop_order():
                    await service.stop()
        except TimeoutError:
            log.error("shutdown_budget_exceeded", budget_s=SHUTDOWN_BUDGET_S)
            raise

    def _stop_order(self) -> list[Service]:
        # demo traffic (input) first, the role's services (a leader: intake, pricing, final checkpoint, lease
        # released), then stream clients (1001), HTTP (drain clients), watchers, the heartbeat (the node leaves
        # the list)
        order = {"demo_traffic": -1, "cluster": 0, "streams": 4, "http": 5, "demand": 6, "freshness": 7,
                 "analytics": 8, "heartbeat": 8, "surge_view": 9, "config": 10}
        return sorted(self.services, key=lambda svc: order.get(svc.name, 4))

    async def close(self) -> None:
        """Release NATS and the embedded server; safe after a failed start."""
        if self.http is not None:
            with contextlib.suppress(Exception):
                await self.http.stop()
        if self.nc is not None and not self.nc.is_closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.nc.drain(), 2.0)
            with contextlib.suppress(Exception):
                await self.nc.close()
        if self.embedded is not None:
            await self.embedded.stop()
        log.info("node_stopped")


__all__ = ["Node", "default_node_id"]

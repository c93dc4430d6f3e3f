"""The composition root: builds every component of a node from the settings and runs them.

Start-up order: NATS (embedded server or cluster), provisioning, live config, served prices, HTTP.
Every long-running part is a :class:`~equilibrium_node.service.Service` run under one TaskGroup.
Shutdown order is explicit and bounded (SIGTERM to exit within 10 s): readiness goes 503, intake
stops, state is checkpointed, HTTP clients are drained, watchers stop, NATS is drained, the embedded
server stops last.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from nats.aio.client import Client
from nats.js import JetStreamContext

from . import __version__
from .api.admin import AdminApi
from .api.app import HttpServer, build_app
from .api.auth import AdminAuth
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
from .errors import ConfigError
from .intake.service import Intake
from .live_config import ConfigStore
from .logs import get_logger, set_context
from .market.checkpoint import Checkpointer, CheckpointStore
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
        await self._build_market()
        self._build_pricing()
        parts = [HealthApi(self.status, self.metrics), StaticApi(),
                 MarketApi(self.market, self.admin_auth, s.cell_level, lambda: self.config_store.current),
                 ExplainApi(self.pricing_core, self.market, self.config_store, self.surge_view, s.cell_level),
                 *await self._rest_parts(), StreamApi(self.streams, s.push)]
        app = build_app(parts, self.metrics, title=f"Equilibrium node ({s.region_name})")
        host, port = s.host_port
        self.http = HttpServer(app, host, port)
        self.services = [self.config_store, self.surge_view, self.intake, self.checkpointer, self.pricing,
                         self.freshness, self.demand, self.streams, self.http, *self.extra_services]

    async def _build_market(self) -> None:
        """The market state, its intake and its checkpoints (leader work; issue 8 moves it behind the lease)."""
        assert self.nc is not None and self.js is not None
        s = self.settings
        self.market = MarketState(s.market)
        self.metrics.cells_active.set_function(lambda: len(self.market.table.cells))
        store = CheckpointStore(await self.js.key_value(self.names.state_bucket),
                                chunk_bytes=s.market.checkpoint_chunk_bytes, node_id=self.node_id)
        self.checkpointer = Checkpointer(self.market, store, interval_s=s.market.checkpoint_interval_s,
                                         metrics=self.metrics)
        self.intake = Intake(self.nc, self.js, self.names, self.market, s.market, s.cell_level, self.metrics,
                             vehicle_types=lambda: self.config_store.current.vehicle_types, status=self.status)

    def _build_pricing(self) -> None:
        """The pricing core and the engine that ticks it on the leader, publishing through one fenced writer."""
        assert self.nc is not None and self.js is not None
        s = self.settings
        self.pricing_core = PricingCore(s.region, s.timezone, s.pricing, self.registry)
        self.leader_writer = LeaderWriter(self.nc, self.js, in_flight=s.pricing.publish_in_flight,
                                          ack_timeout_s=s.nats.request_timeout_s)
        self.pricing = PricingEngine(
            self.pricing_core, self.market, self.config_store, self.leader_writer, self.names, metrics=self.metrics,
            status=self.status, tick_s=s.pricing.tick_s, surge_view=self.surge_view,
            rollups=RollupStore(self.js, self.names, ZoneInfo(s.timezone)),
            gate=lambda: self.status.state_loaded)  # no price from a half-replayed market

    async def _start_market(self) -> None:
        """Restore the newest checkpoint and start consuming after it; readiness waits for the catch-up."""
        _first, last = await self.intake.stream_bounds()
        seq = await self.checkpointer.load(stream_last_seq=last)
        await self.intake.prepare(seq + 1)

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
        """Everything up to serving: NATS, provisioning, components, HTTP listening."""
        self.check_secrets()
        self.registry.check_settings(self.settings)  # an unknown algorithm stops start-up (exit 2)
        await self.connect_bus()
        assert self.js is not None
        self.provision_report = await provision(self.js, self.settings)
        self.metrics.provision_drift.set(len(self.provision_report.drift))
        await self._build()
        await self._start_market()
        assert self.http is not None
        await self.http.start()
        host, _ = self.settings.host_port
        self.status.http_address = f"http://{host}:{self.http.bound_port}"
        await asyncio.wait_for(self.surge_view.loaded.wait(), 15.0)
        self.status.role = "leader"  # state_loaded: set by the intake once caught up with the stream
        self.ready.set()
        log.info("node_started", http=self.status.http_address, mode=self.mode, version=__version__)

    # running ----------------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Start, serve until ``stop`` is set, then shut down in order."""
        try:
            await self.start()
            async with asyncio.TaskGroup() as tg:
                for service in self.services:
                    tg.create_task(service.run(), name=service.name)
                waiter = tg.create_task(stop.wait(), name="stop-signal")
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
        # demo traffic (input) first, intake and pricing (leader work), then stream clients (1001), HTTP
        # (drain clients), watchers
        order = {"demo_traffic": -1, "intake": 0, "pricing": 1, "market": 2, "streams": 4, "http": 5, "demand": 6,
                 "freshness": 7, "surge_view": 8, "config": 9}
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

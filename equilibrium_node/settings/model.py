"""The node's configuration as frozen, typed msgspec Structs, each field with its default and meaning.

One ``Settings`` tree is decoded once at start (see :mod:`.load`); each component receives only its
own section. ``rules``, ``zones`` and ``fares`` are the *live* part: seeded from here into the
region's config bucket on first start, then read from NATS KV by every node.

Every leaf field ``x`` of section ``s`` is also the environment variable ``EQ_S_X`` (top-level
fields: ``EQ_X``); the reference table in the README is generated from the descriptions below.
"""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta, Struct, field

Str64 = Annotated[str, Meta(max_length=64)]
PosFloat = Annotated[float, Meta(gt=0)]
NonNegFloat = Annotated[float, Meta(ge=0)]
Multiplier = Annotated[float, Meta(ge=1.0, le=100.0)]
Port = Annotated[int, Meta(ge=0, le=65535)]


def _doc(description: str, **constraints: object) -> Meta:
    return Meta(description=description, **constraints)  # type: ignore[arg-type]


class _Frozen(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of every settings section: immutable, keyword-only, unknown keys are errors."""


class NatsSettings(_Frozen):
    """How the node reaches NATS: an embedded server (default) or an existing server/cluster."""

    url: Annotated[str, _doc("Comma-separated server URLs. Empty: start the embedded nats-server.")] = ""
    replicas: Annotated[Literal[1, 3], _doc("Replicas of every stream and bucket (1 embedded, 3 on a cluster).")] = 1
    user: Annotated[str, _doc("User name for user/password auth.")] = ""
    password: Annotated[str, _doc("Password for user/password auth.")] = ""
    token: Annotated[str, _doc("Token auth.")] = ""
    creds_file: Annotated[str, _doc("Path to a .creds file (JWT + NKey).")] = ""
    tls_ca_file: Annotated[str, _doc("CA bundle that signs the servers' certificates.")] = ""
    tls_cert_file: Annotated[str, _doc("Client certificate for mutual TLS.")] = ""
    tls_key_file: Annotated[str, _doc("Client key for mutual TLS.")] = ""
    tls_hostname: Annotated[str, _doc("Server name to verify when it differs from the URL host.")] = ""
    tls_handshake_first: Annotated[bool, _doc("TLS before the NATS INFO (servers with handshake_first).")] = False
    connect_timeout_s: Annotated[float, _doc("Timeout of one connection attempt.", gt=0)] = 5.0
    reconnect_wait_s: Annotated[float, _doc("Pause between reconnect attempts.", ge=0)] = 1.0
    max_reconnect_attempts: Annotated[int, _doc("Reconnect attempts before giving up; -1 forever.", ge=-1)] = -1
    request_timeout_s: Annotated[float, _doc("Timeout of JetStream API requests.", gt=0)] = 5.0
    embedded_host: Annotated[str, _doc("Listen address of the embedded server.")] = "127.0.0.1"
    embedded_port: Annotated[Port, _doc("Client port of the embedded server; 0 picks a free one.")] = 4222
    embedded_ready_timeout_s: Annotated[float, _doc("How long to wait for the embedded server.", gt=0)] = 15.0
    embedded_config: Annotated[str, _doc("Optional nats-server config file for the embedded server.")] = ""


class StreamSettings(_Frozen):
    """Limits of the region's streams (retention, size, deduplication)."""

    location_max_age_s: Annotated[float, _doc("Retention of driver pings and demand signals.", gt=0)] = 86_400.0
    location_max_bytes: Annotated[int, _doc("Size cap of the location stream; -1 unlimited.", ge=-1)] = 4 * 1024**3
    duplicate_window_s: Annotated[float, _doc("Nats-Msg-Id deduplication window.", gt=0)] = 120.0
    audit_max_age_s: Annotated[float, _doc("Retention of the pricing audit stream (>= 60 d for the cap rule).",
                                           gt=0)] = 90 * 86_400.0
    audit_max_bytes: Annotated[int, _doc("Size cap of the audit stream; -1 unlimited (the default: a cap drops the "
                                         "oldest records, which can cut the retention below 60 d).", ge=-1)] = -1
    snapshot_max_age_s: Annotated[float, _doc("Retention of zone snapshots (analytics history; >= 60 d).",
                                              gt=0)] = 90 * 86_400.0
    snapshot_max_bytes: Annotated[int, _doc("Size cap of the snapshot stream; -1 unlimited (the default, like "
                                            "the audit stream's).", ge=-1)] = -1
    dlq_max_age_s: Annotated[float, _doc("Retention of rejected input.", gt=0)] = 7 * 86_400.0
    dlq_max_bytes: Annotated[int, _doc("Size cap of the DLQ stream; -1 unlimited.", ge=-1)] = 512 * 1024**2
    storage: Annotated[Literal["file", "memory"], _doc("JetStream storage of every stream and bucket.")] = "file"


class MarketSettings(_Frozen):
    """Windowed supply and demand per cell (the market state)."""

    supply_ttl_s: Annotated[float, _doc("A driver counts as supply while its latest ping is this fresh.", gt=0)] = 60.0
    max_event_age_s: Annotated[float, _doc("Pings whose device ts is older than this (vs stream time) are dropped.",
                                           gt=0)] = 300.0
    weight_request: Annotated[float, _doc("Demand weight of a ride request.", ge=0)] = 3.0
    weight_quote: Annotated[float, _doc("Demand weight of a price quote.", ge=0)] = 1.5
    weight_app_open: Annotated[float, _doc("Demand weight of an app open.", ge=0)] = 1.0
    checkpoint_interval_s: Annotated[float, _doc("Seconds between state checkpoints to NATS KV.", gt=0)] = 5.0
    checkpoint_chunk_bytes: Annotated[int, _doc("Largest KV value of a checkpoint chunk (below NATS max_payload).",
                                                ge=1024, le=8 * 1024 * 1024)] = 512 * 1024
    batch_max: Annotated[int, _doc("Most events applied to the state in one batch.", ge=1)] = 5000
    driver_idle_evict_s: Annotated[float, _doc("Forget a driver whose latest ping is older than this.", gt=0)] = 900.0


class TimeOfDayFactor(_Frozen):
    """A multiplier factor for a daily time range in the region's time zone (rush hours)."""

    days: Annotated[list[Annotated[int, Meta(ge=0, le=6)]], _doc("Weekdays, 0 = Monday.")] = field(
        default_factory=lambda: [0, 1, 2, 3, 4])
    start: Annotated[str, _doc("Start, HH:MM local time.", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] = "07:00"
    end: Annotated[str, _doc("End (exclusive), HH:MM local time.", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] = "09:00"
    factor: Annotated[float, _doc("Factor applied to the multiplier.", ge=0.5, le=3.0)] = 1.1


class Rules(_Frozen):
    """Global pricing rules of the region (live: KV ``eq_<region>_config`` key ``rules``)."""

    max_multiplier: Annotated[float, _doc("Global cap over every zone.", ge=1.0, le=100.0)] = 5.0
    emergency_mode: Annotated[Literal["off", "freeze", "cap"],
                              _doc("off, freeze (everything 1.0) or cap (60-day normal range per zone).")] = "off"
    rise_confirm_s: Annotated[float, _doc("A rise must hold this long before it is served.", ge=0)] = 3.0
    fall_confirm_s: Annotated[float, _doc("A fall is served after holding this long.", ge=0)] = 10.0
    max_change_per_min: Annotated[float, _doc("Most the served multiplier may move per minute.", gt=0)] = 1.5
    max_neighbor_gap: Annotated[float, _doc("Largest multiplier gap between adjacent cells.", gt=0)] = 0.5
    demand_level_thresholds: Annotated[list[float], _doc(
        "Demand/supply ratios where demand_level becomes normal, high, very_high.")] = field(
        default_factory=lambda: [0.5, 1.2, 2.0])
    time_of_day: Annotated[list[TimeOfDayFactor], _doc("Rush-hour factors.")] = field(default_factory=list)
    shadow_algorithms: Annotated[list[str], _doc("Algorithms computed and logged, never served.")] = field(
        default_factory=list)


class Polygon(_Frozen):
    """A GeoJSON Polygon or MultiPolygon geometry (coordinates are [lng, lat])."""

    type: Literal["Polygon", "MultiPolygon"]
    coordinates: list


class ZoneConfig(_Frozen):
    """A named area with the pricing parameters of its cells (live: key ``zone.<zone_id>``)."""

    id: Annotated[str, _doc("Zone id.", pattern=r"^[a-z0-9_]{1,64}$")]
    name: Annotated[str, _doc("Display name.", min_length=1, max_length=128)]
    geometry: Annotated[Polygon, _doc("GeoJSON Polygon or MultiPolygon.")]
    algorithm: Annotated[str, _doc("Pricing algorithm (plugin name).", min_length=1, max_length=64)] = "linear"
    params: Annotated[dict[str, float], _doc("Algorithm parameters, e.g. factor.")] = field(default_factory=dict)
    min_multiplier: Annotated[float, _doc("Zone floor.", ge=1.0, le=100.0)] = 1.0
    max_multiplier: Annotated[float, _doc("Zone cap.", ge=1.0, le=100.0)] = 3.0
    rounding_step: Annotated[float, _doc("Served multipliers are rounded to this step.", gt=0, le=1)] = 0.1
    model: Annotated[str, _doc("Model file of model-based algorithms (ml); empty: the bundled example.",
                               max_length=512)] = ""


class Fare(_Frozen):
    """Fare table of one vehicle type (live: key ``fares.<vehicle_type>``), in the region's currency."""

    base: Annotated[float, _doc("Base fare.", ge=0)]
    per_km: Annotated[float, _doc("Price per kilometre.", ge=0)]
    per_min: Annotated[float, _doc("Price per minute.", ge=0)]
    booking_fee: Annotated[float, _doc("Booking fee (part of the base fare, so surged with it).", ge=0)] = 0.0
    minimum: Annotated[float, _doc("Minimum fare.", ge=0)] = 0.0


class PricingSettings(_Frozen):
    """The pricing engine (static per process)."""

    tick_s: Annotated[float, _doc("Seconds between pricing ticks on the leader.", gt=0)] = 1.0
    smoothing_radius_m: Annotated[float, _doc("Blend each cell's inputs with neighbours this close.", ge=0)] = 1500.0
    smoothing_decay_m: Annotated[float, _doc("Distance decay of neighbour weights exp(-d/decay).", gt=0)] = 800.0
    stale_after_s: Annotated[float, _doc("Multipliers older than this are served as degraded.", gt=0)] = 10.0
    fallback_after_s: Annotated[float, _doc("After this long without fresh multipliers, serve 1.0.", gt=0)] = 120.0
    trend_band: Annotated[float, _doc("Trend is increasing/decreasing when the 1-min demand rate is this fraction "
                                      "above/below the 5-min rate.", gt=0, le=10)] = 0.2
    publish_in_flight: Annotated[int, _doc("Most unacknowledged surge/audit publishes per tick (pipelining).",
                                           ge=1, le=100_000)] = 1024


class QuoteSettings(_Frozen):
    """Rider quotes: signing, validity, distance and duration model."""

    secret: Annotated[str, _doc("HMAC secret that signs quote ids (required outside demo).")] = ""
    ttl_s: Annotated[float, _doc("Quote validity.", gt=0)] = 120.0
    detour_factor: Annotated[float, _doc("Road distance / great-circle distance.", ge=1.0, le=3.0)] = 1.3
    speed_kmh_by_hour: Annotated[list[Annotated[float, Meta(gt=0)]], _doc(
        "Average road speed per local hour 0..23.", min_length=24, max_length=24)] = field(
        default_factory=lambda: [35.0] * 24)


class DriverSettings(_Frozen):
    """Driver-facing recommendations."""

    base_hourly_earnings: Annotated[float, _doc("Expected earnings per hour at multiplier 1.0.", ge=0)] = 30.0
    default_radius_m: Annotated[float, _doc("Radius of the driver heatmap when none is given.", gt=0)] = 5000.0


class AdminSettings(_Frozen):
    """The admin API."""

    token: Annotated[str, _doc("Bearer token of the admin API; empty disables it (demo prints one).")] = ""


class PushSettings(_Frozen):
    """Live heatmap streams over WebSocket and SSE."""

    heartbeat_s: Annotated[float, _doc("SSE comment pings and WS pings.", gt=0)] = 10.0
    stall_timeout_s: Annotated[float, _doc("A client that cannot take data this long is closed (4008).",
                                           gt=0)] = 10.0
    max_connections: Annotated[int, _doc("Stream connections per node (WS close 4029, SSE 503).", ge=1)] = 10_000
    app_tokens: Annotated[list[str], _doc("Accepted app tokens; empty: streams are open.")] = field(
        default_factory=list)
    max_cells: Annotated[int, _doc("Most cells in one viewport.", ge=1)] = 5000
    history_ring: Annotated[int, _doc("Surge revisions kept in memory for resume.", ge=0)] = 50_000


class ClusterSettings(_Frozen):
    """Leader lease and heartbeats among the nodes of a region."""

    lease_ttl_s: Annotated[float, _doc("Leader lease lifetime (max age of the nodes bucket); renewed every third "
                                       "of it (at most pricing.stale_after_s / 2). A dead leader is replaced within "
                                       "it (+ about 1 s).", ge=1)] = 6.0
    heartbeat_s: Annotated[float, _doc("Node heartbeat interval (< lease_ttl_s).", gt=0)] = 2.0
    advertise: Annotated[str, _doc("HTTP address other nodes and proxies should use; default the bind.")] = ""


class SnapshotSettings(_Frozen):
    """Zone snapshots for analytics."""

    interval_s: Annotated[float, _doc("Seconds between zone snapshots.", gt=0)] = 60.0
    detail_span_s: Annotated[float, _doc("How far back each node keeps 5-minute history buckets (charts with "
                                         "steps under an hour); hourly ones cover the whole retention.",
                                         ge=3600, le=30 * 86_400)] = 2 * 86_400.0


class MapSettings(_Frozen):
    """What the live heatmap page draws under the cells (``GET /api/v1/region``)."""

    outline: Annotated[list[list[list[float]]], _doc(
        "Land outline drawn when no tiles load: rings of [lng, lat] points (JSON in the environment).")] = field(
        default_factory=list)
    view: Annotated[list[float], _doc("Initial view lat1,lng1,lat2,lng2 (south-west first); empty: every zone.",
                                      max_length=4)] = field(default_factory=list)
    tiles_url: Annotated[str, _doc("Online base-map tiles ({z}/{x}/{y}) drawn when reachable; empty: never.")] = (
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png")
    tiles_attribution: Annotated[str, _doc("Attribution shown with the tiles.")] = "© OpenStreetMap contributors"


class DemoSettings(_Frozen):
    """The built-in traffic of ``equilibrium-node demo``."""

    drivers: Annotated[int, _doc("Simulated drivers.", ge=0, le=100_000)] = 3000
    riders_per_min: Annotated[float, _doc("Mean demand signals per minute at the daily peak (hotspots come on top).",
                                          ge=0)] = 400.0
    speedup: Annotated[float, _doc("Simulated seconds per real second for the daily rhythm.", gt=0)] = 1.0
    seed: Annotated[int, _doc("Random seed of the traffic.")] = 7
    start_hour: Annotated[float, _doc("Simulated local time of day at start, in hours (the evening rush).",
                                      ge=0, lt=24)] = 17.5
    game_every_min: Annotated[float, _doc("Real minutes between games letting out at Oracle Park; 0: none.",
                                          ge=0)] = 15.0
    ping_interval_s: Annotated[float, _doc("Seconds between two pings of an online driver.", ge=0.5, le=60)] = 4.0
    status_every_s: Annotated[float, _doc("Seconds between two status lines on the console.", gt=0)] = 5.0
    location_max_bytes: Annotated[int, _doc("Size cap of the location stream in demo mode (replaces "
                                            "streams.location_max_bytes).", ge=1024 * 1024)] = 512 * 1024**2


class Settings(_Frozen):
    """The whole configuration of one node."""

    region: Annotated[str, _doc("Region id.", pattern=r"^[a-z][a-z0-9_]{0,31}$")] = "sf"
    region_name: Annotated[str, _doc("Display name of the region.")] = "San Francisco"
    timezone: Annotated[str, _doc("IANA time zone of the region.")] = "America/Los_Angeles"
    currency: Annotated[str, _doc("ISO 4217 currency of fares.", pattern=r"^[A-Z]{3}$")] = "USD"
    cell_level: Annotated[int, _doc("S2 level of pricing cells.", ge=8, le=16)] = 13
    node_id: Annotated[str, _doc("Node id; default <hostname>-<pid>.", pattern=r"^[A-Za-z0-9_-]{0,64}$")] = ""
    http: Annotated[str, _doc("HTTP listen address host:port.")] = "127.0.0.1:8080"
    data_dir: Annotated[str, _doc("Directory of the embedded server's JetStream store and pid files.")] = (
        ".equilibrium")
    log_level: Annotated[Literal["debug", "info", "warning", "error"], _doc("Log level.")] = "info"
    log_format: Annotated[Literal["auto", "json", "text"], _doc("auto: JSON unless stderr is a terminal.")] = "auto"
    nats: NatsSettings = field(default_factory=NatsSettings)
    streams: StreamSettings = field(default_factory=StreamSettings)
    market: MarketSettings = field(default_factory=MarketSettings)
    pricing: PricingSettings = field(default_factory=PricingSettings)
    rules: Rules = field(default_factory=Rules)
    zones: Annotated[list[ZoneConfig], _doc("Zones of the region (JSON list in the environment).")] = field(
        default_factory=list)
    fares: Annotated[dict[str, Fare], _doc("Fare table per vehicle type (JSON object in the environment).")] = field(
        default_factory=dict)
    quote: QuoteSettings = field(default_factory=QuoteSettings)
    driver: DriverSettings = field(default_factory=DriverSettings)
    admin: AdminSettings = field(default_factory=AdminSettings)
    push: PushSettings = field(default_factory=PushSettings)
    cluster: ClusterSettings = field(default_factory=ClusterSettings)
    snapshot: SnapshotSettings = field(default_factory=SnapshotSettings)
    map: MapSettings = field(default_factory=MapSettings)
    demo: DemoSettings = field(default_factory=DemoSettings)

    @property
    def vehicle_types(self) -> tuple[str, ...]:
        """Vehicle types of the region, in fare-table order."""
        return tuple(self.fares)

    @property
    def host_port(self) -> tuple[str, int]:
        """``http`` split into host and port."""
        host, _, port = self.http.rpartition(":")
        return host or "127.0.0.1", int(port)


SECTIONS: tuple[type[_Frozen], ...] = (
    NatsSettings, StreamSettings, MarketSettings, PricingSettings, Rules, QuoteSettings, DriverSettings,
    AdminSettings, PushSettings, ClusterSettings, SnapshotSettings, MapSettings, DemoSettings,
)

__all__ = [
    "SECTIONS", "AdminSettings", "ClusterSettings", "DemoSettings", "DriverSettings", "Fare", "MapSettings",
    "MarketSettings", "NatsSettings", "Polygon", "PricingSettings", "PushSettings", "QuoteSettings", "Rules",
    "Settings", "SnapshotSettings", "StreamSettings", "TimeOfDayFactor", "ZoneConfig",
]

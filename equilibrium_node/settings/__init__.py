"""Configuration: frozen typed sections (:mod:`.model`) loaded once from file and environment (:mod:`.load`)."""

from .load import ENV_EXTRA, env_names, iter_leaves, load_settings
from .model import (
    AdminSettings,
    ClusterSettings,
    DemoSettings,
    DriverSettings,
    Fare,
    MapSettings,
    MarketSettings,
    NatsSettings,
    Polygon,
    PricingSettings,
    PushSettings,
    QuoteSettings,
    Rules,
    Settings,
    SnapshotSettings,
    StreamSettings,
    TimeOfDayFactor,
    ZoneConfig,
)

__all__ = [
    "ENV_EXTRA", "AdminSettings", "ClusterSettings", "DemoSettings", "DriverSettings", "Fare", "MapSettings",
    "MarketSettings", "NatsSettings", "Polygon", "PricingSettings", "PushSettings", "QuoteSettings", "Rules",
    "Settings", "SnapshotSettings", "StreamSettings", "TimeOfDayFactor", "ZoneConfig", "env_names", "iter_leaves",
    "load_settings",
]

"""Degraded mode: the freshness decision and what is served in each state."""

from __future__ import annotations

import pytest

from equilibrium_node.metrics import Metrics
from equilibrium_node.serving.degraded import Freshness, FreshnessMonitor, freshness, served_multiplier
from equilibrium_node.settings import PricingSettings, Rules
from equilibrium_node.status import NodeStatus

STALE, FALLBACK = 10.0, 120.0


@pytest.mark.parametrize(("now", "evidence", "connected", "since", "state"), [
    (100.0, 95.0, True, None, "fresh"),
    (100.0, 90.0, True, None, "fresh"),          # exactly stale_after: still fresh
    (100.0, 89.0, True, None, "stale"),          # leader silent for > stale_after
    (100.0, 99.0, False, 99.5, "stale"),         # NATS down: degraded at once
    (300.0, 299.0, False, 150.0, "fallback"),    # down for 150 s: local ticks do not count
    (300.0, 100.0, True, None, "fallback"),      # leader silent for 200 s
    (300.0, 200.0, True, None, "stale"),
])
def test_freshness_states(now, evidence, connected, since, state):
    assert freshness(now, evidence, connected, since, STALE, FALLBACK).state == state


def test_age_is_from_the_earlier_of_evidence_and_disconnect():
    f = freshness(100.0, 99.0, False, 40.0, STALE, FALLBACK)
    assert f == Freshness("stale", 60.0) and f.degraded


def test_served_multiplier_per_state_and_rules():
    rules = Rules()
    assert served_multiplier(1.7, Freshness("fresh", 0), rules) == 1.7
    assert served_multiplier(1.7, Freshness("stale", 30), rules) == 1.7  # last known, marked degraded
    assert served_multiplier(1.7, Freshness("fallback", 200), rules) == 1.0
    assert served_multiplier(None, Freshness("fresh", 0), rules) == 1.0  # a cell nobody priced
    assert served_multiplier(4.0, Freshness("fresh", 0), Rules(max_multiplier=2.5)) == 2.5
    assert served_multiplier(4.0, Freshness("fresh", 0), Rules(emergency_mode="freeze")) == 1.0


def test_monitor_publishes_to_status_and_metrics():
    status = NodeStatus(region="sf", node_id="n", version="0")
    status.bus.connected = True
    metrics = Metrics()
    monitor = FreshnessMonitor(status, metrics, PricingSettings(stale_after_s=STALE, fallback_after_s=FALLBACK))
    start = status.started_monotonic
    assert monitor.check(start + 5).state == "fresh" and status.degraded is False  # no evidence yet: start counts
    assert monitor.check(start + 11).state == "stale" and status.degraded is True
    assert metrics.degraded.value == 1
    status.last_pricing_monotonic = start + 20
    assert monitor.check(start + 21).state == "fresh" and metrics.degraded.value == 0
    status.bus.connected = False
    assert monitor.check(start + 22).state == "stale"
    status.last_pricing_monotonic = start + 200  # a leader ticking alone while cut off does not help
    assert monitor.check(start + 22 + FALLBACK + 1).state == "fallback"
    status.bus.connected = True
    assert monitor.check(start + 201).state == "fresh"

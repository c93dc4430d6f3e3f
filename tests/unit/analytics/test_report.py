"""Zone efficiency and history figures, and the inefficiency formula."""

from __future__ import annotations

import pytest

from equilibrium_node.analytics.report import (
    ZoneFigures,
    inefficiency,
    ordered,
    window_start,
    zone_history,
    zone_table,
)
from equilibrium_node.analytics.rollup import ZoneRollup
from tests.unit.analytics.test_rollup import DAY, NOW, audit, snap


def test_inefficiency_formula():
    assert inefficiency(1.0, 0.1) == 0.0  # never surged: nothing to blame
    assert inefficiency(2.0, 0.25) == pytest.approx(0.75)
    assert inefficiency(2.0, 0.0) == pytest.approx(1.0)  # surged and nobody booked: worst for its multiplier
    assert inefficiency(2.0, 1.4) == 0.0  # accepts of earlier quotes: conversion counts as 1
    assert inefficiency(2.0, None) is None and inefficiency(None, 0.5) is None


def test_window_starts_at_a_whole_hour():
    assert window_start(NOW, 30 * DAY) == (NOW - 30 * DAY) // 3600 * 3600
    assert window_start(7200.0, 3600) == 3600.0


def _rollup() -> ZoneRollup:
    rollup = ZoneRollup(60 * DAY, 2 * DAY, clock=lambda: NOW)
    for i in range(10):  # soma: 2.0 on average, 10% conversion
        rollup.add_snapshot(snap("soma", NOW - DAY - i * 60, mean=2.0, top=2.5, quotes=10, accepts=1))
    for i in range(10):  # mission: 1.5, 50% conversion; another vehicle type too
        rollup.add_snapshot(snap("mission", NOW - DAY - i * 60, mean=1.5, top=1.8, quotes=10, accepts=5))
        rollup.add_snapshot(snap("mission", NOW - DAY - i * 60, mean=1.5, top=3.0, quotes=0, accepts=0, vt="xl"))
    rollup.add_snapshot(snap("quiet", NOW - DAY, mean=1.2, top=1.2, quotes=0, accepts=0))  # no quotes at all
    rollup.add_snapshot(snap("old", NOW - 40 * DAY, mean=3.0, quotes=10, accepts=0))  # outside a 30-day window
    rollup.add_audit(audit("soma", NOW - DAY, 1.0, 2.0))
    rollup.add_audit(audit("soma", NOW - DAY, 2.0, 2.5))
    rollup.add_audit(audit("mission", NOW - DAY, 2.0, 1.5))
    return rollup


def test_zone_table_figures_and_order():
    rows = zone_table(_rollup(), window_start(NOW, 30 * DAY), NOW, zone_name=str.upper)
    by_id = {r.zone_id: r for r in rows}
    assert set(by_id) == {"soma", "mission", "quiet"}
    soma = by_id["soma"]
    assert (soma.zone_name, soma.snapshots, soma.avg_multiplier, soma.max_multiplier) == ("SOMA", 10, 2.0, 2.5)
    assert (soma.quotes, soma.accepts, soma.conversion) == (100, 10, 0.1)
    assert (soma.surge_events, soma.decrease_events) == (2, 0)
    assert soma.inefficiency == pytest.approx(0.9)
    mission = by_id["mission"]  # both vehicle types together
    assert (mission.snapshots, mission.max_multiplier, mission.conversion) == (20, 3.0, 0.5)
    assert mission.inefficiency == pytest.approx(0.25) and mission.decrease_events == 1
    assert by_id["quiet"].conversion is None and by_id["quiet"].inefficiency is None
    assert [r.zone_id for r in ordered(rows, "inefficiency")] == ["soma", "mission", "quiet"]
    assert [r.zone_id for r in ordered(rows, "conversion")] == ["soma", "mission", "quiet"]  # worst first
    assert [r.zone_id for r in ordered(rows, "zone_id")] == ["mission", "quiet", "soma"]
    xl = zone_table(_rollup(), window_start(NOW, 30 * DAY), NOW, vehicle_type="xl")
    assert [(r.zone_id, r.snapshots, r.max_multiplier) for r in xl] == [("mission", 10, 3.0)]
    sixty = {r.zone_id for r in zone_table(_rollup(), window_start(NOW, 60 * DAY), NOW)}
    assert "old" in sixty


def test_ties_and_missing_values_order_deterministically():
    def row(zone: str, value: float | None) -> ZoneFigures:
        return ZoneFigures(zone, zone, 1, 1.0, 1.0, 0, 0, 0, 0, 0, 0, None, value)

    rows = [row("b", 0.5), row("c", None), row("a", 0.5), row("d", 0.7)]
    assert [r.zone_id for r in ordered(rows, "inefficiency")] == ["d", "a", "b", "c"]


def test_history_hourly_and_five_minute_steps():
    rollup = _rollup()
    start = NOW - DAY - 3600
    points = zone_history(rollup, "soma", start, NOW, 3600)
    assert len(points) == 26 and sum(p.snapshots for p in points) == 10
    full = [p for p in points if p.snapshots]
    assert all(p.avg_multiplier == 2.0 for p in full) and sum(p.quotes for p in points) == 100
    assert points[0].ts.endswith(":00:00Z")
    fine = zone_history(rollup, "soma", NOW - DAY - 900, NOW - DAY + 300, 300)
    assert len(fine) == 5 and sum(p.snapshots for p in fine) == 10 and sum(p.surge_events for p in fine) == 2
    assert zone_history(rollup, "nowhere", start, NOW, 3600)[0].avg_multiplier is None
    xl = zone_history(rollup, "mission", start, NOW, 86_400, vehicle_type="xl")
    assert sum(p.snapshots for p in xl) == 10 and max(p.max_multiplier or 0 for p in xl) == 3.0

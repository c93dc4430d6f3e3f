"""The 60-day emergency cap rule and its rollup."""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple
from zoneinfo import ZoneInfo

import pytest

from equilibrium_node.pricing.cap_rule import DailyMaxRollup, cap_from_days, replay

TODAY = dt.date(2026, 11, 20)


def day(n: int) -> str:
    return (TODAY - dt.timedelta(days=n)).isoformat()


def test_fourth_highest_day_of_the_previous_sixty():
    history = {day(1): 3.0, day(2): 2.8, day(5): 2.6, day(9): 2.2, day(30): 1.9, day(60): 1.5}
    assert cap_from_days(history, TODAY) == 2.2  # 3.0, 2.8, 2.6 left out


def test_today_and_older_days_do_not_count():
    history = {TODAY.isoformat(): 4.0, day(61): 4.0, day(1): 2.0, day(2): 2.0, day(3): 2.0, day(4): 1.7}
    assert cap_from_days(history, TODAY) == 1.7


def test_fewer_than_four_surge_days_cap_at_one():
    assert cap_from_days({day(1): 3.0, day(2): 2.0, day(3): 2.5}, TODAY) == 1.0
    assert cap_from_days({}, TODAY) == 1.0


def test_rollup_keeps_daily_maximum_and_prunes():
    r = DailyMaxRollup()
    r.observe("soma", day(1), 1.4)
    r.observe("soma", day(1), 1.2)
    r.observe("soma", day(70), 3.0)
    assert r.days["soma"][day(1)] == 1.4
    r.prune(TODAY)
    assert day(70) not in r.days["soma"]
    assert DailyMaxRollup(r.to_builtins()).days == r.days


class Rec(NamedTuple):
    zone_id: str
    cell: str
    vehicle_type: str
    new_multiplier: float
    ts: float


def test_replay_rebuilds_the_rollup_and_carries_prices_over_midnight():
    tz = ZoneInfo("America/Los_Angeles")
    t0 = dt.datetime(2026, 11, 10, 22, 0, tzinfo=tz).timestamp()
    records = [Rec("soma", "c1", "standard", 2.5, t0), Rec("soma", "c2", "standard", 1.5, t0 + 60),
               # next change two days later: 2.5 was served through the 11th and into the 12th
               Rec("soma", "c1", "standard", 1.0, t0 + 2 * 86_400)]
    r = replay(records, tz)
    assert r.days["soma"] == {"2026-11-10": 2.5, "2026-11-11": 2.5, "2026-11-12": 2.5}


@pytest.mark.parametrize("n", [0, 3, 4])
def test_cap_needs_four_days(n):
    history = {day(i + 1): 2.0 for i in range(n)}
    assert cap_from_days(history, TODAY) == (2.0 if n >= 4 else 1.0)

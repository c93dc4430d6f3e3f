"""The emergency ``cap`` rule: each zone at most its normal range of the previous 60 days.

The rule (after the 2014 New York agreement on surge pricing in emergencies): during an emergency a
zone's multiplier may not exceed the **fourth-highest daily maximum** of the zone over the 60 days
before today, that is the highest once the three highest days are left out. Days are calendar days
in the region's time zone; a day with no recorded change counts as 1.0 (so a zone with fewer than
four surge days in the window is capped at 1.0).

Data: a per-zone rollup ``{zone_id: {"YYYY-MM-DD": highest multiplier served that day}}``, updated
from every served change (the same decisions that go to the audit stream ``EQ_AUDIT_<REGION>``),
so it can always be rebuilt by replaying the last 60 days of that stream (its retention is 90 days).
A multiplier set before midnight and still served after counts for the day it was set. The node
keeps the rollup in KV ``eq_<region>_state`` under ``pricing.daily_max`` (see ``publish/history.py``).
This module is the pure part: the rollup and the rule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Protocol
from zoneinfo import ZoneInfo

HISTORY_DAYS = 60
EXCLUDED_TOP_DAYS = 3


def local_day(ts: float, tz: ZoneInfo) -> str:
    """ISO calendar day of epoch seconds ``ts`` in ``tz``."""
    return dt.datetime.fromtimestamp(ts, tz).date().isoformat()


def cap_from_days(daily_max: Mapping[str, float], today: dt.date, days: int = HISTORY_DAYS,
                  excluded: int = EXCLUDED_TOP_DAYS) -> float:
    """The rule itself: the (excluded + 1)-th highest daily maximum of the ``days`` days before ``today``."""
    first = (today - dt.timedelta(days=days)).isoformat()
    last = (today - dt.timedelta(days=1)).isoformat()
    values = sorted((max(1.0, v) for d, v in daily_max.items() if first <= d <= last), reverse=True)
    values += [1.0] * (days - len(values))
    return values[excluded]


class DailyMaxRollup:
    """Highest served multiplier per zone and local day."""

    def __init__(self, data: Mapping[str, Mapping[str, float]] | None = None) -> None:
        self.days: dict[str, dict[str, float]] = {z: dict(d) for z, d in (data or {}).items()}
        self.dirty = False

    def observe(self, zone_id: str, day: str, multiplier: float) -> None:
        """Record a served multiplier of a zone on a local day."""
        zone = self.days.setdefault(zone_id, {})
        if multiplier > zone.get(day, 0.0):
            zone[day] = multiplier
            self.dirty = True

    def cap(self, zone_id: str, today: dt.date) -> float:
        """The emergency cap of a zone on ``today``."""
        return cap_from_days(self.days.get(zone_id, {}), today)

    def prune(self, today: dt.date) -> None:
        """Forget days older than the window."""
        first = (today - dt.timedelta(days=HISTORY_DAYS)).isoformat()
        for zone_id, days in list(self.days.items()):
            for day in [d for d in days if d < first]:
                del days[day]
                self.dirty = True
            if not days:
                del self.days[zone_id]

    def to_builtins(self) -> dict[str, dict[str, float]]:
        """Plain dicts (for JSON)."""
        return {z: dict(sorted(d.items())) for z, d in sorted(self.days.items())}


class ServedChange(Protocol):
    """What replay needs of an audit record."""

    zone_id: str
    cell: str
    vehicle_type: str
    new_multiplier: float
    ts: float


def replay(records: Iterable[ServedChange], tz: ZoneInfo, rollup: DailyMaxRollup | None = None) -> DailyMaxRollup:
    """Rebuild the rollup from audit records in stream order.

    Besides each change, what every cell still serves when a new local day starts counts for that
    day (and for each following day without changes), as the live engine does at midnight.
    """
    rollup = rollup or DailyMaxRollup()
    serving: dict[tuple[str, str], tuple[str, float]] = {}
    day: dt.date | None = None
    for r in records:
        today = dt.datetime.fromtimestamp(r.ts, tz).date()
        if day is not None and today > day:
            carried: dict[str, float] = {}
            for zone_id, value in serving.values():
                if value > 1.0:
                    carried[zone_id] = max(carried.get(zone_id, 0.0), value)
            gap = min((today - day).days, HISTORY_DAYS + 1)
            for k in range(gap, 0, -1):
                for zone_id, value in carried.items():
                    rollup.observe(zone_id, (today - dt.timedelta(days=k - 1)).isoformat(), value)
        if day is None or today > day:
            day = today
        serving[(r.cell, r.vehicle_type)] = (r.zone_id, r.new_multiplier)
        rollup.observe(r.zone_id, today.isoformat(), r.new_multiplier)
    return rollup


__all__ = ["EXCLUDED_TOP_DAYS", "HISTORY_DAYS", "DailyMaxRollup", "ServedChange", "cap_from_days", "local_day",
           "replay"]

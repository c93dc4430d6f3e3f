"""Scenarios: what happens to demand (and to pricing) over a simulated run.

A :class:`Scenario` is data; :meth:`Scenario.plan` turns it into concrete times for a run of a given
length (events sit at the same fraction of any run, so a short test run keeps its shape). Times are
seconds from the scenario's start (``t = 0``); the warm-up runs before that at the base level.

=============  ================================================================================
``steady``     A weekday afternoon at the base demand level throughout.
``rush_hour``  A weekday morning: demand doubles from about 0.9x to 1.8x, trips run from the
               outer neighbourhoods into the zones (downtown), and the config's time-of-day
               factors apply (07:00-09:30 in ``config/sf.toml``).
``concert``    A Saturday night, the city busy (1.4x the base level); a venue lets out: demand x10 in
               two cells (Oracle Park and Chase Center) for 20 minutes from a third of the run.
``outage``     New Year's Eve: demand climbs to 3x after midnight and pricing stops updating for
               26 minutes at the peak, as in the outage studied by Hall, Kendrick and Nosko, "The
               Effects of Uber's Surge Pricing: A Case Study" (2015). While pricing is down the
               node's degraded mode decides what riders see: the last multiplier for
               ``pricing.fallback_after_s``, then 1.0.
=============  ================================================================================
"""

from __future__ import annotations

import datetime as dt
import difflib
from dataclasses import dataclass
from typing import NamedTuple
from zoneinfo import ZoneInfo

import numpy as np

from ..errors import ConfigError

#: The venues of the concert: Oracle Park and Chase Center (zone ``oracle_park_chase_center`` in sf.toml).
VENUES: tuple[tuple[float, float], ...] = ((37.7786, -122.3893), (37.7680, -122.3877))


class Window(NamedTuple):
    """A time window in seconds from the start, ``[start_s, end_s)``."""

    start_s: float
    end_s: float

    def contains(self, t: float | np.ndarray) -> bool | np.ndarray:
        """True inside the window."""
        return (t >= self.start_s) & (t < self.end_s)


@dataclass(frozen=True)
class Plan:
    """A scenario laid out over one run."""

    scenario: Scenario
    duration_s: float
    start_epoch: float  # t = 0 in epoch seconds
    level_t: tuple[float, ...]  # knots of the city-wide demand level (seconds)
    level_v: tuple[float, ...]
    hot: Window | None  # when the hot points' cells get ``hot_factor``
    outage: Window | None  # when pricing stops
    event: Window | None  # the window the report singles out

    def level(self, t: float) -> float:
        """City-wide demand level at ``t`` (1.0 = the model's base); the warm-up runs at the first knot."""
        return float(np.interp(t, self.level_t, self.level_v))

    def hot_active(self, t: float) -> bool:
        """True while the hot cells have their extra demand."""
        return self.hot is not None and bool(self.hot.contains(t))

    def pricing_down(self, t: float) -> bool:
        """True while pricing does not update."""
        return self.outage is not None and bool(self.outage.contains(t))


@dataclass(frozen=True)
class Scenario:
    """A named scenario (see the module docstring)."""

    name: str
    description: str
    start_local: str  # ISO local date and time of t = 0, in the region's time zone
    level: tuple[tuple[float, float], ...] = ((0.0, 1.0), (1.0, 1.0))  # (fraction of the run, level)
    hot_points: tuple[tuple[float, float], ...] = ()
    hot_factor: float = 1.0
    hot_start: float = 0.0  # fraction of the run
    hot_duration_s: float = 0.0
    outage_start: float | None = None  # fraction of the run
    outage_duration_s: float = 0.0
    event: str = ""  # "hot", "outage", "peak" or "" (no event window)
    origin_zone_factor: float = 1.0  # extra weight of zone cells as origins
    destination_zone_factor: float = 1.0  # extra weight of zone cells as destinations

    def plan(self, minutes: float, tz: ZoneInfo) -> Plan:
        """Concrete times for a run of ``minutes``."""
        duration = minutes * 60.0
        start = dt.datetime.fromisoformat(self.start_local).replace(tzinfo=tz).timestamp()
        knots_t = tuple(f * duration for f, _ in self.level)
        knots_v = tuple(v for _, v in self.level)
        hot = None
        if self.hot_points:
            s = self.hot_start * duration
            hot = Window(s, min(duration, s + self.hot_duration_s))
        outage = None
        if self.outage_start is not None:
            s = self.outage_start * duration
            outage = Window(s, min(duration, s + self.outage_duration_s))
        event = {"hot": hot, "outage": outage, "": None}.get(self.event)
        if self.event == "peak":
            high = [t for t, v in zip(knots_t, knots_v, strict=True) if v == max(knots_v)]
            event = Window(min(high), max(high))
        return Plan(self, duration, start, knots_t, knots_v, hot, outage, event)


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("steady", "a weekday afternoon at the base demand level", "2026-05-13T14:00"),
    Scenario("rush_hour", "weekday morning commute: demand 0.9x to 1.8x, trips into the zones",
             "2026-05-13T07:00", level=((0.0, 0.9), (1 / 3, 1.8), (2 / 3, 1.8), (1.0, 1.1)), event="peak",
             origin_zone_factor=0.6, destination_zone_factor=2.0),
    Scenario("concert", "Saturday night (demand 1.4x); a venue lets out: demand x10 in two cells (Oracle Park, "
             "Chase Center) for 20 minutes", "2026-05-16T21:00", level=((0.0, 1.4), (1.0, 1.4)), hot_points=VENUES,
             hot_factor=10.0, hot_start=1 / 3, hot_duration_s=20 * 60.0, event="hot"),
    Scenario("outage", "New Year's Eve peak (demand 3x); pricing stops updating for 26 minutes at the peak",
             "2025-12-31T23:30", level=((0.0, 1.0), (1 / 3, 3.0), (2 / 3, 3.0), (1.0, 1.4)), outage_start=1 / 3,
             outage_duration_s=26 * 60.0, event="outage"),
)}


def get_scenario(name: str) -> Scenario:
    """A scenario by name; :class:`ConfigError` naming the choices (and the closest) on a typo."""
    scenario = SCENARIOS.get(name)
    if scenario is None:
        close = difflib.get_close_matches(name, list(SCENARIOS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown scenario {name!r}; available: {', '.join(SCENARIOS)}{hint}", field="scenario")
    return scenario


__all__ = ["SCENARIOS", "VENUES", "Plan", "Scenario", "Window", "get_scenario"]

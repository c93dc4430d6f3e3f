"""Guardrails: the fixed, documented order of rules between an algorithm's output and the price served.

Every step is a pure, vectorised function (arrays of cells in, arrays out) and shows up in explain
with its value before and after. The order, and why:

==  ===============  ============================================================================
 1  ``no_data``      No supply and no demand (after smoothing) gives 1.0, never "maximum scarcity";
                     such a cell takes no factor below (it can still be lifted by ``neighbor_gap``).
 2  ``time_of_day``  Rush-hour factors of ``rules.time_of_day`` active at the region's local time
                     (several matching ranges multiply).
 3  ``signals``      Weather / event factors of the zone that have not expired (admin API).
 4  ``zone_limits``  Clamp to the zone's [min_multiplier, max_multiplier] (factors above cannot
                     escape it).
 5  ``global_max``   At most ``rules.max_multiplier`` anywhere.
 6  ``neighbor_gap`` Across cells: a cell is lifted to at least (adjacent cell - max_neighbor_gap),
                     within its own ceiling, so crossing a street never jumps the price. Prices are
                     only ever raised here, never cut: a real hotspot keeps its price and the area
                     around it steps down to normal.
 7  ``hysteresis``   Against the value being served: a rise is taken once the target has stayed above
                     it for ``rise_confirm_s``, a fall once it has stayed below for ``fall_confirm_s``;
                     changes smaller than half a rounding step never start either.
 8  ``max_change``   The served value moves toward the confirmed target by at most
                     ``max_change_per_min`` per minute (per tick: rate * tick / 60), and stays
                     within the zone and global limits (lowered limits apply at once).
 9  ``rounding``     To the zone's ``rounding_step`` (half up), inside the limits.
10  ``emergency``    ``freeze``: everything 1.0 at once; ``cap``: at most the zone's normal range of
                     the previous 60 days (see :mod:`.cap_rule`), at once.
==  ===============  ============================================================================

Step 6 lives in :mod:`.smoothing` with the other cross-cell maths. Steps 1-6 are stateless (a
target per cell); 7-10 act on time and on what is served. Shadow algorithms run steps 1-5 on their
own output and are logged and explained, never served.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import numpy as np

from ..settings import TimeOfDayFactor

STEPS: tuple[str, ...] = ("no_data", "time_of_day", "signals", "zone_limits", "global_max", "neighbor_gap",
                          "hysteresis", "max_change", "rounding", "emergency")
STATELESS_STEPS = STEPS[:5]
#: A value within this of another is the same (floating-point noise).
EPS = 1e-9


# 1 -------------------------------------------------------------------------------------------------
def no_data(x: np.ndarray, supply: np.ndarray, demand: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """1.0 where there is neither supply nor demand; also returns that mask."""
    empty = (supply <= 0) & (demand <= 0)
    return np.where(empty, 1.0, x), empty


# 2 -------------------------------------------------------------------------------------------------
def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def local_time(now: float, tz: ZoneInfo) -> dt.datetime:
    """``now`` (epoch seconds) in the region's time zone."""
    return dt.datetime.fromtimestamp(now, tz)


def time_of_day_factor(ranges: Sequence[TimeOfDayFactor], local: dt.datetime) -> float:
    """Product of the factors of every range active at ``local`` (1.0 when none is).

    A range whose end is before its start runs over midnight; its ``days`` are the days it starts on.
    """
    minute = local.hour * 60 + local.minute
    weekday = local.weekday()
    factor = 1.0
    for r in ranges:
        start, end = _minutes(r.start), _minutes(r.end)
        if start <= end:
            active = weekday in r.days and start <= minute < end
        else:
            active = (weekday in r.days and minute >= start) or ((weekday - 1) % 7 in r.days and minute < end)
        if active:
            factor *= r.factor
    return factor


def apply_factor(x: np.ndarray, factor: np.ndarray | float, skip: np.ndarray) -> np.ndarray:
    """``x * factor`` except where ``skip`` (cells without data stay 1.0)."""
    return np.where(skip, x, x * factor)


# 4, 5 ----------------------------------------------------------------------------------------------
def clamp(x: np.ndarray, lo: np.ndarray | float, hi: np.ndarray | float) -> np.ndarray:
    """Element-wise clamp."""
    return np.minimum(np.maximum(x, lo), hi)


# 7 -------------------------------------------------------------------------------------------------
def hysteresis(target: np.ndarray, value: np.ndarray, pending: np.ndarray, since: np.ndarray, now: float,
               rise_s: float, fall_s: float, deadband: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The goal the served value may move to, and the new (pending direction, since) per cell.

    ``pending`` is +1 (a rise is waiting), -1 (a fall is waiting) or 0; ``since`` when it started.
    A move starts only when the gap is at least ``deadband`` (half a rounding step); once started
    it is kept while the target stays on the same side, and confirmed after ``rise_s``/``fall_s``.
    """
    diff = target - value
    direction = np.where(diff > EPS, 1, np.where(diff < -EPS, -1, 0)).astype(np.int8)
    keep = (pending == direction) & (direction != 0)
    start = ~keep & (direction != 0) & (np.abs(diff) >= deadband - EPS)
    new_pending = np.where(keep, pending, np.where(start, direction, 0)).astype(np.int8)
    new_since = np.where(keep, since, np.where(start, now, np.nan))
    hold = np.where(new_pending > 0, rise_s, fall_s)
    confirmed = (new_pending != 0) & (now - new_since >= hold - EPS)
    return np.where(confirmed, target, value), new_pending, new_since


# 8 -------------------------------------------------------------------------------------------------
def max_change(value: np.ndarray, goal: np.ndarray, dt_s: np.ndarray, per_min: float, floor: np.ndarray,
               ceiling: np.ndarray) -> np.ndarray:
    """Move ``value`` toward ``goal`` by at most ``per_min * dt_s / 60``, then into [floor, ceiling]."""
    bound = per_min * np.maximum(dt_s, 0.0) / 60.0
    moved = value + np.clip(goal - value, -bound, bound)
    return clamp(moved, floor, ceiling)


# 9 -------------------------------------------------------------------------------------------------
def round_to_step(value: np.ndarray, step: np.ndarray, floor: np.ndarray, ceiling: np.ndarray) -> np.ndarray:
    """Round half up to ``step``; a result outside [floor, ceiling] goes to the nearest step inside.

    When no step fits between floor and ceiling the ceiling side wins: a rider never pays above a cap.
    """
    k = np.floor(value / step + 0.5 + EPS)
    k = np.maximum(k, np.ceil(floor / step - EPS))
    k = np.minimum(k, np.floor(ceiling / step + EPS))
    return np.round(k * step, 6)


# 10 ------------------------------------------------------------------------------------------------
def emergency(served: np.ndarray, mode: str, cap: np.ndarray, step: np.ndarray) -> np.ndarray:
    """``freeze``: 1.0; ``cap``: at most ``cap`` (rounded down to the step, never below 1.0); ``off``: unchanged."""
    if mode == "freeze":
        return np.ones_like(served)
    if mode == "cap":
        capped = np.maximum(np.round(np.floor(cap / step + EPS) * step, 6), 1.0)
        return np.minimum(served, capped)
    return served


__all__ = ["STATELESS_STEPS", "STEPS", "apply_factor", "clamp", "emergency", "hysteresis", "local_time",
           "max_change", "no_data", "round_to_step", "time_of_day_factor"]

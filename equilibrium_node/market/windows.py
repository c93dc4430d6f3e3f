"""The time rules of the market state, as pure functions (no I/O, no state).

Every time here is **stream time**: the JetStream timestamp of a message, in epoch seconds. Device
timestamps only decide whether a ping is too old to apply and which of two pings of a driver is
newer; they never place an event in a window. That is what makes a replay of the stream produce the
same state, bit for bit.

Policy for late and out-of-order events (also in the README):

- **Too old**: an event whose device ``ts`` is more than ``max_event_age_s`` older than its stream
  time is dropped and counted (``eq_events_dropped_total{reason="too_old"}``): a phone that sends a
  buffered backlog after a tunnel does not resurrect stale positions or demand.
- **Out of order (drivers)**: a ping counts as newer than the driver's current one when its
  *effective time* ``min(device ts, stream time)`` is not earlier (ties go to stream order). An
  older ping is dropped and counted (``reason="out_of_order"``), so a delayed "available" cannot undo
  an "on_trip" that was sent after it. Clamping the device time to the stream time keeps a phone
  whose clock runs ahead from blocking its own later pings.
- **Out of order (riders)**: demand signals are never dropped for order; each counts at its own
  stream time, and a rider's latest signal per kind is the one with the largest stream time.
- **Windows**: an event at stream time ``t`` is inside a window of ``w`` seconds at time ``now`` when
  ``t + w > now`` (a half-open window ``(now - w, now]``). Supply uses ``w = supply_ttl_s`` on the
  driver's latest ping; demand uses 60 s and 300 s.
- **The clock** only moves forward: the largest stream time seen (or a later evaluation time when
  the consumer is caught up). An event that arrives with a stream time already outside a window
  (possible only when stream timestamps step backwards) simply does not enter that window.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

#: Demand windows in seconds (the contract's 1-minute and 5-minute demand).
DEMAND_WINDOWS_S: tuple[float, float] = (60.0, 300.0)
#: Demand kinds by code (the order of ``messages.DEMAND_KINDS``).
KIND_NAMES: tuple[str, str, str] = ("app_open", "quote", "request")
NO_KIND = -1
NEVER = -math.inf


def in_window(t: float, now: float, window_s: float) -> bool:
    """True when an event at stream time ``t`` is inside the window ``(now - window_s, now]``."""
    return t + window_s > now


def expired(t: float, now: float, window_s: float) -> bool:
    """The complement of :func:`in_window` (the one expression every expiry check uses)."""
    return t + window_s <= now


def too_old(stream_ts: float, device_ts: float, max_event_age_s: float) -> bool:
    """True when the device time lags the stream time by more than the allowed age."""
    return stream_ts - device_ts > max_event_age_s


def effective_time(device_ts: float, stream_ts: float) -> float:
    """The time a driver ping is ordered by: the device time, but never later than the stream time."""
    return device_ts if device_ts < stream_ts else stream_ts


def supersedes(new_effective: float, current_effective: float) -> bool:
    """True when a ping with ``new_effective`` time replaces the current one (ties: the later in the stream)."""
    return new_effective >= current_effective


def kind_ranking(weights: Sequence[float]) -> tuple[int, int, int]:
    """Rank of each kind code (higher wins): by weight, ties broken by code (request > quote > app_open)."""
    order = sorted(range(len(weights)), key=lambda k: (weights[k], k))
    rank = [0, 0, 0]
    for position, kind in enumerate(order):
        rank[kind] = position
    return rank[0], rank[1], rank[2]


def best_kind(last_ts: Sequence[float], now: float, window_s: float, rank: Sequence[int]) -> int:
    """The highest-ranked kind whose latest signal is inside the window, or ``NO_KIND``.

    A rider counts once per cell and window, with the weight of the strongest signal they showed
    there (a rider who opened the app, got a quote and requested counts as one request).
    """
    best, best_rank = NO_KIND, -1
    for kind, t in enumerate(last_ts):
        if t + window_s > now and rank[kind] > best_rank:
            best, best_rank = kind, rank[kind]
    return best


def weighted_demand(counts: Sequence[int], weights: Sequence[float]) -> float:
    """Distinct riders per best kind times the kinds' weights."""
    return counts[0] * weights[0] + counts[1] * weights[1] + counts[2] * weights[2]


def evaluation_time(clock: float, wall: float, caught_up: bool) -> float:
    """When to evaluate windows: the stream clock, or the wall clock once the consumer is caught up."""
    return wall if caught_up and wall > clock else clock

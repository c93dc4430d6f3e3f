"""The derivation of a price, step by step, for a batch of cells: shared by the tick and explain.

:func:`price_with` runs algorithms on smoothed inputs, :func:`targets` applies the stateless
guardrails (1-5), :func:`serve` the temporal ones (7-10) against what is served; the neighbour gap
(6) sits in between and needs the whole graph (:mod:`.smoothing`). Every intermediate array is kept
so that explain can show each step's value before and after, and the audit can say what moved a price.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..settings import Rules
from . import guardrails as g
from .protocol import PricingAlgorithm, PricingInputs
from .state import VtState

#: Causes of a served change, the second part of an audit record's ``trigger_reason`` ("rise:market").
CAUSES: tuple[str, ...] = ("market", "time_of_day", "signal", "neighbor_gap", "limits", "no_data",
                           "emergency_freeze", "emergency_cap")


#: every trigger_reason, indexed by rise * len(CAUSES) + cause
REASONS = np.array([f"{d}:{c}" for d in ("fall", "rise") for c in CAUSES])


class Targets(NamedTuple):
    """Output of each stateless step (arrays over the batch)."""

    algorithm: np.ndarray
    empty: np.ndarray  # no supply and no demand
    no_data: np.ndarray
    time_of_day: np.ndarray
    signals: np.ndarray
    zone_limits: np.ndarray
    global_max: np.ndarray  # the target before the neighbour gap


class Served(NamedTuple):
    """Output of each temporal step and the cells' new temporal state."""

    hysteresis: np.ndarray  # the goal the value may move toward
    max_change: np.ndarray  # the value after the rate limit (exact)
    rounding: np.ndarray
    emergency: np.ndarray  # what is served
    value: np.ndarray  # new exact value (state)
    pending: np.ndarray
    since: np.ndarray


def price_with(algorithm: PricingAlgorithm, inputs: PricingInputs, state: VtState | None, key: str,
               slots: np.ndarray, commit: bool) -> np.ndarray:
    """Run one algorithm over ``inputs`` (cells ``slots``), reading and (if ``commit``) writing its state."""
    size = algorithm.state_size
    if state is not None and size:
        rows = state.algorithm_rows(key, size)
        current = rows[slots]
    else:
        current = np.full((len(slots), size), np.nan)
    result = algorithm.price(inputs, current)
    if commit and state is not None and size:
        state.algorithm_state[key][slots] = result.state
    return np.asarray(result.multiplier, dtype=np.float64)


def targets(raw: np.ndarray, supply: np.ndarray, demand: np.ndarray, time_of_day: float, signal: np.ndarray,
            zone_min: np.ndarray, zone_max: np.ndarray, global_max: float) -> Targets:
    """Guardrails 1-5 on algorithm output ``raw``."""
    raw = np.where(np.isfinite(raw), raw, 1.0)  # a misbehaving plugin cannot serve NaN
    nd, empty = g.no_data(raw, supply, demand)
    tod = g.apply_factor(nd, time_of_day, empty)
    sig = g.apply_factor(tod, signal, empty)
    zone = g.clamp(sig, zone_min, zone_max)
    glob = np.minimum(zone, global_max)
    return Targets(raw, empty, nd, tod, sig, zone, glob)


def serve(target: np.ndarray, value: np.ndarray, pending: np.ndarray, since: np.ndarray, now: float, rules: Rules,
          dt_s: np.ndarray, floor: np.ndarray, ceiling: np.ndarray, step: np.ndarray, cap: np.ndarray) -> Served:
    """Guardrails 7-10 from the cells' temporal state."""
    goal, new_pending, new_since = g.hysteresis(target, value, pending, since, now, rules.rise_confirm_s,
                                                 rules.fall_confirm_s, step / 2.0)
    moved = g.max_change(value, goal, dt_s, rules.max_change_per_min, floor, ceiling)
    rounded = g.round_to_step(moved, step, floor, ceiling)
    final = g.emergency(rounded, rules.emergency_mode, cap, step)
    new_value = moved
    if rules.emergency_mode == "freeze":
        new_value = np.ones_like(moved)
    elif rules.emergency_mode == "cap":
        new_value = np.minimum(moved, np.maximum(cap, 1.0))
    return Served(goal, moved, rounded, final, new_value, new_pending, new_since)


def causes(old: np.ndarray, new: np.ndarray, t: Targets, after_gap: np.ndarray, served: Served, mode: str,
           time_of_day: float, signal: np.ndarray) -> np.ndarray:
    """Index into :data:`CAUSES` of what moved each cell's served multiplier from ``old`` to ``new``.

    Emergency when that step changed the result; no_data for a fall of a cell without data; else
    the largest factor in the direction of the move among the market (algorithm output), the
    time-of-day and signal factors and the neighbour gap; a fall that only the limits explain
    (a lowered cap) is ``limits``.
    """
    n = len(new)
    out = np.zeros(n, dtype=np.int8)
    up = new > old
    log = np.log
    with np.errstate(divide="ignore", invalid="ignore"):
        contrib = np.column_stack([
            log(np.maximum(t.no_data, 1e-9)),
            np.where(t.empty, 0.0, log(max(time_of_day, 1e-9))),
            np.where(t.empty, 0.0, log(np.maximum(signal, 1e-9))),
            log(np.maximum(after_gap, 1e-9)) - log(np.maximum(t.global_max, 1e-9)),
        ]) if n else np.empty((0, 4))
    rise_cause = np.argmax(contrib, axis=1) if n else np.empty(0, dtype=np.int64)
    out[up] = rise_cause[up]
    limited = (~up) & (t.global_max < t.signals - 1e-9) & (old > t.global_max + 1e-9)
    out[limited] = CAUSES.index("limits")
    out[(~up) & t.empty] = CAUSES.index("no_data")
    emergency_moved = np.abs(served.emergency - served.rounding) > g.EPS
    if mode in ("freeze", "cap"):
        out[emergency_moved] = CAUSES.index(f"emergency_{mode}")
    return out


def trigger_reason(up: bool, cause: int) -> str:
    """``"<rise|fall>:<cause>"``."""
    return f"{'rise' if up else 'fall'}:{CAUSES[cause]}"


__all__ = ["CAUSES", "Served", "Targets", "causes", "price_with", "serve", "targets", "trigger_reason"]

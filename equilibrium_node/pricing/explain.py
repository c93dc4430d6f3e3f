"""Explain: the whole derivation of the multiplier at one cell, step by step, without changing anything.

It reruns the tick's maths (:mod:`.derive`) for one cell at market time: raw inputs of the cell and
of every cell within the smoothing radius, their weights, the smoothed inputs, the algorithm's
output, each guardrail with its value before and after and why, the result, what the region serves
now (the surge bucket) and what each shadow algorithm would have made of the same inputs.

Temporal steps read the engine's state for the cell (hysteresis timer, ramp position); on a node
that does not price (a follower) they start from the served value. The neighbour-gap step uses the
adjacent cells' targets from the engine's last tick, or their served multipliers on a follower.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import numpy as np

from ..geo import cells
from ..live_config import ConfigSnapshot
from ..market.view import MarketView
from ..messages import DEMAND_LEVELS, TRENDS
from . import derive, levels
from . import guardrails as g
from .cellgraph import cells_within
from .core import PricingCore
from .protocol import PricingInputs
from .zone_table import ZoneTable

ServedLookup = Callable[[str, str], "msgspec.Struct | None"]


class CellInputs(msgspec.Struct, frozen=True):
    """Market inputs of a cell."""

    supply: float
    on_trip: float
    demand_1m: float
    demand_5m: float


class Neighbour(msgspec.Struct, frozen=True):
    """A cell within the smoothing radius and its weight."""

    cell: str
    distance_m: float
    weight: float
    supply: float
    demand_1m: float
    demand_5m: float


class Smoothed(msgspec.Struct, frozen=True):
    """Inputs after smoothing (what the algorithm sees)."""

    supply: float
    demand_1m: float
    demand_5m: float
    ratio: float | None  # demand / supply; null without supply
    radius_m: float
    decay_m: float
    neighbours: list[Neighbour]


class Step(msgspec.Struct, frozen=True):
    """One guardrail: its value before and after, whether it changed anything, and why."""

    step: str
    before: float
    after: float
    applied: bool
    detail: str


class ShadowResult(msgspec.Struct, frozen=True):
    """A shadow algorithm on the same inputs: raw output and target after guardrails 1-5 (never served)."""

    algorithm: str
    output: float
    target: float


class ServedNow(msgspec.Struct, frozen=True):
    """What the region serves for the cell (its surge KV entry)."""

    multiplier: float
    demand_level: str
    trend: str
    algorithm: str
    rev: int
    updated_at: str


class Explanation(msgspec.Struct, frozen=True):
    """``GET /api/v1/pricing/explain``."""

    cell: str
    zone_id: str
    zone_name: str
    vehicle_type: str
    latitude: float
    longitude: float
    market_time: float  # epoch seconds the derivation is evaluated at
    algorithm: str
    params: dict[str, float]
    raw: CellInputs
    smoothed: Smoothed
    algorithm_output: float
    guardrails: list[Step]
    multiplier: float  # the result of this derivation
    demand_level: str
    trend: str
    served: ServedNow | None
    shadow: list[ShadowResult]


def _r(x: float) -> float:
    return round(float(x), 4)


def _step(name: str, before: float, after: float, detail: str) -> Step:
    return Step(name, _r(before), _r(after), bool(abs(after - before) > g.EPS), detail)


def explain(core: PricingCore, market: MarketView, config: ConfigSnapshot, lat: float, lng: float,
            vehicle_type: str, level: int, served: ServedLookup | None = None) -> Explanation:
    """The derivation at a point (its cell at ``level``) for one vehicle type, at market time."""
    now = market.now()
    settings = core.settings
    rules = config.rules
    cell = cells.cell_token(lat, lng, level)
    table = core.table if core.config is config and core.table is not None else ZoneTable(
        core.region, config.zones, core.registry)
    zone_id = config.zone_index.zone_of_cell(cell)
    z = table.position[zone_id]
    zone = table.zones[z]
    st = core.states.get(vehicle_type)
    slot = core.graph.slot.get(cell)
    known = st is not None and slot is not None and slot < st.capacity
    entry = served(cell, vehicle_type) if served else None
    served_value = float(entry.update.multiplier) if entry is not None else 1.0  # type: ignore[attr-defined]

    # inputs and smoothing
    around = cells_within(cell, settings.smoothing_radius_m)
    tokens = [cell, *(t for t, _ in around)]
    arrays = market.cell_arrays(tokens, vehicle_type, now)
    dist = np.array([0.0, *(d for _, d in around)])
    weight = np.exp(-dist / settings.smoothing_decay_m)
    sm_s, sm_d, sm_d5 = (float(np.dot(weight, a) / weight.sum()) for a in (arrays.supply, arrays.demand_1m,
                                                                            arrays.demand_5m))
    neighbours = [Neighbour(t, round(float(d), 1), _r(w), float(s), _r(d1), _r(d5)) for t, d, w, s, d1, d5 in zip(
        tokens[1:], dist[1:], weight[1:], arrays.supply[1:], arrays.demand_1m[1:], arrays.demand_5m[1:], strict=True)]

    # algorithm and guardrails 1-5
    local = g.local_time(now, core.tz)
    hour = local.hour + local.minute / 60.0 + local.second / 3600.0
    pub = float(st.pub_multiplier[slot]) if known else served_value  # type: ignore[union-attr, index]
    last = float(st.last_ts[slot]) if known else float("nan")  # type: ignore[union-attr, index]
    dt_s = now - last if np.isfinite(last) else settings.tick_s
    one = np.ones(1)
    inputs = PricingInputs(one * sm_s, one * sm_d, one * sm_d5, one * pub, one * zone.min_multiplier,
                           one * zone.max_multiplier, one * min(max(dt_s, 0.0), 60.0), now, hour, local.weekday())
    slots = np.array([slot if known else 0], dtype=np.int64)
    algo_state = st if known else None
    raw = derive.price_with(table.algorithms[z], inputs, algo_state, table.algorithm_keys[z], slots, False)
    tod = g.time_of_day_factor(rules.time_of_day, local)
    active = config.active_signals(zone_id, now)
    sig = float(np.prod([s.factor for s in active])) if active else 1.0
    t = derive.targets(raw, inputs.supply, inputs.demand, tod, one * sig, inputs.min_multiplier,
                       inputs.max_multiplier, rules.max_multiplier)
    empty = bool(t.empty[0])
    steps = [
        _step("no_data", raw[0], t.no_data[0], "no supply and no demand within the smoothing radius: 1.0"
              if empty else "supply or demand present"),
        _step("time_of_day", t.no_data[0], t.time_of_day[0], "skipped: no data" if empty else
              f"factor {tod:g} at {local:%a %H:%M} {core.tz.key}"),
        _step("signals", t.time_of_day[0], t.signals[0], "skipped: no data" if empty else
              ("; ".join(f"{s.id} ({s.kind}) x{s.factor:g} until {s.expires_at:.0f}: {s.reason}" for s in active)
               or "no active signal for the zone")),
        _step("zone_limits", t.signals[0], t.zone_limits[0],
              f"zone {zone_id} range [{zone.min_multiplier:g}, {zone.max_multiplier:g}]"),
        _step("global_max", t.zone_limits[0], t.global_max[0], f"rules.max_multiplier {rules.max_multiplier:g}"),
    ]

    # 6: neighbour gap, from the adjacent cells' current targets (or served values on a follower)
    floor_z, ceil_z = table.limits(rules.max_multiplier)
    pre = float(t.global_max[0])
    best, best_cell = -np.inf, ""
    for nb in cells.neighbors(cell):
        nb_slot = core.graph.slot.get(nb)
        if st is not None and core.last_tick is not None and nb_slot is not None and nb_slot < st.capacity:
            value = float(st.target[nb_slot])
        else:
            nb_entry = served(nb, vehicle_type) if served else None
            value = float(nb_entry.update.multiplier) if nb_entry is not None else 1.0  # type: ignore[attr-defined]
        if value > best:
            best, best_cell = value, nb
    gap = rules.max_neighbor_gap
    after_gap = max(pre, min(float(ceil_z[z]), best - gap))
    steps.append(_step("neighbor_gap", pre, after_gap,
                       f"highest adjacent cell {best_cell} at {best:g}: at least {best - gap:g} "
                       f"(max_neighbor_gap {gap:g}, ceiling {ceil_z[z]:g})"))

    # 7-10 from the cell's temporal state
    value = float(st.value[slot]) if known else served_value  # type: ignore[union-attr, index]
    pending = int(st.pending[slot]) if known else 0  # type: ignore[union-attr, index]
    since = float(st.since[slot]) if known else float("nan")  # type: ignore[union-attr, index]
    cap = table.caps(core.rollup, local.date())[z] if rules.emergency_mode == "cap" else float(ceil_z[z])
    srv = derive.serve(one * after_gap, one * value, np.array([pending], dtype=np.int8), one * since, now, rules,
                       one * settings.tick_s, one * floor_z[z], one * ceil_z[z], one * zone.rounding_step, one * cap)
    held = now - float(srv.since[0]) if srv.pending[0] else 0.0
    need = rules.rise_confirm_s if srv.pending[0] > 0 else rules.fall_confirm_s
    if not srv.pending[0]:
        hyst = f"no move pending (served value {value:g}; moves start at half a rounding step)"
    elif abs(srv.hysteresis[0] - after_gap) < g.EPS:
        hyst = f"{'rise' if srv.pending[0] > 0 else 'fall'} confirmed: held {held:.1f} s (needs {need:g} s)"
    else:
        hyst = f"{'rise' if srv.pending[0] > 0 else 'fall'} pending: held {held:.1f} s of {need:g} s"
    steps.append(_step("hysteresis", value, srv.hysteresis[0], hyst))
    per_tick = rules.max_change_per_min * settings.tick_s / 60.0
    steps.append(_step("max_change", srv.hysteresis[0], srv.max_change[0],
                       f"at most {per_tick:g} per tick of {settings.tick_s:g} s ({rules.max_change_per_min:g}/min) "
                       f"from {value:g}, within [{floor_z[z]:g}, {ceil_z[z]:g}]"))
    steps.append(_step("rounding", srv.max_change[0], srv.rounding[0], f"step {zone.rounding_step:g}"))
    mode = rules.emergency_mode
    steps.append(_step("emergency", srv.rounding[0], srv.emergency[0], {
        "off": "emergency mode off", "freeze": "freeze: everything 1.0",
        "cap": f"cap: at most {cap:g} (4th-highest daily maximum of the zone over the previous 60 days)"}[mode]))

    shadow = []
    for name in rules.shadow_algorithms:
        algorithm = core.registry.create(name)
        out = derive.price_with(algorithm, inputs, algo_state, f"shadow:{name}", slots, False)
        st_targets = derive.targets(out, inputs.supply, inputs.demand, tod, one * sig, inputs.min_multiplier,
                                    inputs.max_multiplier, rules.max_multiplier)
        shadow.append(ShadowResult(name, _r(out[0]), _r(st_targets.global_max[0])))

    level_code = int(levels.demand_level(inputs.demand, inputs.supply, rules.demand_level_thresholds)[0])
    trend_code = int(levels.trend(inputs.demand, inputs.demand_5m, settings.trend_band)[0])
    served_now = None
    if entry is not None:
        u = entry.update  # type: ignore[attr-defined]
        served_now = ServedNow(u.multiplier, u.demand_level, u.trend, u.algorithm, u.rev, u.updated_at)
    return Explanation(
        cell=cell, zone_id=zone_id, zone_name=config.zone_index.zone_name(zone_id), vehicle_type=vehicle_type,
        latitude=lat, longitude=lng, market_time=round(now, 3), algorithm=table.algorithm_names[z],
        params=dict(zone.params), raw=CellInputs(float(arrays.supply[0]), float(arrays.on_trip[0]),
                                                 _r(arrays.demand_1m[0]), _r(arrays.demand_5m[0])),
        smoothed=Smoothed(_r(sm_s), _r(sm_d), _r(sm_d5), _r(sm_d / sm_s) if sm_s > 0 else None,
                          settings.smoothing_radius_m, settings.smoothing_decay_m, neighbours),
        algorithm_output=_r(raw[0]), guardrails=steps, multiplier=_r(srv.emergency[0]),
        demand_level=DEMAND_LEVELS[level_code], trend=TRENDS[trend_code], served=served_now, shadow=shadow)


__all__ = ["CellInputs", "Explanation", "Neighbour", "ServedNow", "ShadowResult", "Smoothed", "Step", "explain"]

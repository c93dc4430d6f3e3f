"""The pricing core: one tick over the market, pure and clock-injected (no NATS, no wall clock).

``PricingCore.tick(market, config, now)`` reads the market through the
:class:`~equilibrium_node.market.view.MarketView` protocol and a
:class:`~equilibrium_node.live_config.ConfigSnapshot`, and returns what to publish. ``now`` is
the evaluation time (stream time on a node, simulated time in the simulator), so the same code
prices a live region, a replay and a simulation alike.

Which cells a tick prices, per vehicle type:

- the cells whose inputs changed (``MarketView.changed_since``) and the cells within the smoothing
  radius of them (their smoothed inputs changed too);
- the *live* cells: any cell whose windows still hold supply or demand (they decay as the windows
  slide, with or without new events) or whose price has not settled (a hysteresis timer running,
  a ramp under way, a multiplier above 1.0 still being served);
- the cells the neighbour gap moved.

What it publishes: a cell whose served multiplier, demand level or trend changed, or whose supply or
demand moved by at least 10 % (and at least one unit) from what was last published. Every change of
a served multiplier also yields an audit record, with its cause (see :data:`.derive.CAUSES`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import NamedTuple
from zoneinfo import ZoneInfo

import numpy as np

from ..live_config import ConfigSnapshot
from ..market.view import MarketView
from ..messages import DEMAND_LEVELS, TRENDS, SurgeUpdate
from ..settings import PricingSettings
from . import derive, levels
from . import guardrails as g
from .cap_rule import DailyMaxRollup
from .cellgraph import CellGraph
from .protocol import PricingInputs
from .registry import AlgorithmRegistry
from .smoothing import blend, neighbor_gap
from .state import VtState
from .zone_table import ZoneTable, geometry_key

#: Supply/demand changes smaller than this fraction (and than one unit) are not republished.
INPUT_CHANGE = 0.10
#: Longest gap (s) an algorithm is told passed since it last priced a cell.
MAX_ALGORITHM_DT_S = 60.0


class TickBatch(NamedTuple):
    """What one tick publishes for one vehicle type (columns; row i is one cell)."""

    vehicle_type: str
    cells: list[str]
    zone_ids: list[str]
    algorithms: list[str]
    multiplier: np.ndarray
    old_multiplier: np.ndarray
    supply: np.ndarray  # raw available drivers
    demand: np.ndarray  # raw weighted demand of the last minute
    level: np.ndarray  # codes into messages.DEMAND_LEVELS
    trend: np.ndarray  # codes into messages.TRENDS
    audit: np.ndarray  # True where the served multiplier changed
    reasons: list[str]  # trigger_reason where audit, else ""

    def __len__(self) -> int:  # type: ignore[override]
        return len(self.cells)


class ShadowSummary(NamedTuple):
    """A shadow algorithm's view of one tick (never served)."""

    algorithm: str
    vehicle_type: str
    cells: int
    mean_target: float  # the live target (guardrails 1-5) over the cells priced
    mean_shadow: float  # the shadow algorithm's target over the same cells
    max_abs_diff: float


class TickResult(NamedTuple):
    """Everything a tick decided."""

    now: float
    batches: list[TickBatch]
    priced: int  # (cell, vehicle type) pairs evaluated
    active_cells: int  # cells with any supply or demand
    shadow: list[ShadowSummary]

    @property
    def updates(self) -> int:
        """Surge updates to publish."""
        return sum(len(b) for b in self.batches)


def _dt(now: float, last: np.ndarray, default: float, cap: float) -> np.ndarray:
    out = np.where(np.isfinite(last), now - last, default)
    return np.clip(out, 0.0, cap)


def _select(inputs: PricingInputs, sel: np.ndarray) -> PricingInputs:
    return PricingInputs(*(a[sel] if isinstance(a, np.ndarray) else a for a in inputs))


class PricingCore:
    """Pricing state of a region and the tick that advances it."""

    def __init__(self, region: str, timezone: str, pricing: PricingSettings,
                 registry: AlgorithmRegistry | None = None) -> None:
        self.region = region
        self.tz = ZoneInfo(timezone)
        self.settings = pricing
        self.registry = registry or AlgorithmRegistry()
        self.graph = CellGraph(pricing.smoothing_radius_m, pricing.smoothing_decay_m)
        self.states: dict[str, VtState] = {}
        self.rollup = DailyMaxRollup()
        self.table: ZoneTable | None = None
        self.config: ConfigSnapshot | None = None
        self.zone_slot = np.empty(0, dtype=np.int32)
        self._zone_ids: list[str] = []  # zone id per slot (assigned so far)
        self._geometry: bytes | None = None
        self._market_version = 0
        self._day: dt.date | None = None
        self.last_tick: float | None = None

    # config and zones ------------------------------------------------------------------------------
    def _sync(self, config: ConfigSnapshot) -> ZoneTable:
        if self.table is None or config is not self.config:
            self.table = ZoneTable(self.region, config.zones, self.registry)
            geometry = geometry_key(config.zones)
            if geometry != self._geometry:
                self._zone_ids = []  # shapes changed: reassign every cell
                self._geometry = geometry
            self.config = config
            self.zone_slot = np.array([self.table.position[z] for z in self._zone_ids], dtype=np.int32)
        self._assign_new_cells()
        return self.table

    def _assign_new_cells(self) -> None:
        assert self.table is not None and self.config is not None
        n = len(self.graph)
        if len(self._zone_ids) == n:
            return
        index = self.config.zone_index
        new = [index.zone_of_cell(t) for t in self.graph.tokens[len(self._zone_ids):]]
        self._zone_ids.extend(new)
        pos = self.table.position
        self.zone_slot = np.concatenate([self.zone_slot, np.array([pos[z] for z in new], dtype=np.int32)])
        for st in self.states.values():
            st.ensure(n)

    def state(self, vehicle_type: str) -> VtState:
        """The state arrays of a vehicle type (created on first use)."""
        st = self.states.get(vehicle_type)
        if st is None:
            st = self.states[vehicle_type] = VtState(vehicle_type)
        st.ensure(len(self.graph))
        return st

    def zone_of(self, cell: str) -> str:
        """Zone id of a cell under the current config."""
        slot = self.graph.slot.get(cell)
        if slot is not None and slot < len(self._zone_ids):
            return self._zone_ids[slot]
        assert self.config is not None
        return self.config.zone_index.zone_of_cell(cell)

    # restart ---------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the per-cell pricing state (a new lease term starts from what the region serves).

        The cell graph and zone assignment are geometry and stay; timers, ramps, integrators, what
        was published and the market version go.
        """
        self.states.clear()
        self._market_version = 0
        self._day = None
        self.last_tick = None

    def load_served(self, updates: Iterable[SurgeUpdate]) -> int:
        """Start from what the region serves now (the surge bucket), so a restart neither republishes
        every cell nor jumps a price; returns how many entries were taken."""
        count = 0
        for u in updates:
            slot = int(self.graph.add([u.cell])[0])
            st = self.state(u.vehicle_type)
            for name in ("value", "target", "pregap", "pub_multiplier"):
                st.arrays[name][slot] = u.multiplier
            st.pub_supply[slot], st.pub_demand[slot] = u.supply, u.demand
            st.pub_level[slot] = DEMAND_LEVELS.index(u.demand_level)
            st.pub_trend[slot] = TRENDS.index(u.trend)
            st.live[slot] = True
            count += 1
        return count

    def republish(self, cell: str, vehicle_type: str) -> None:
        """Publish a cell again next tick (its last write was not acknowledged)."""
        slot = self.graph.slot.get(cell)
        st = self.states.get(vehicle_type)
        if slot is not None and st is not None:
            st.pub_level[slot] = -1
            st.live[slot] = True

    # the tick --------------------------------------------------------------------------------------
    def tick(self, market: MarketView, config: ConfigSnapshot, now: float) -> TickResult:
        """Price what needs pricing at ``now`` and return what to publish."""
        rules = config.rules
        local = g.local_time(now, self.tz)
        hour = local.hour + local.minute / 60.0 + local.second / 3600.0
        changed, self._market_version = market.changed_since(self._market_version)
        known = len(self.graph)
        changed_slots, unseen = self.graph.lookup(changed)
        if unseen:
            self.graph.add(sorted(unseen))  # sorted: slots do not depend on set order
            changed_slots = self.graph.lookup(changed)[0]
        # a cell with data shares its market with every cell within the smoothing radius: those are priced too
        self.graph.expand_radius(changed_slots)
        table = self._sync(config)
        self._roll_day(local.date(), config)
        tod = g.time_of_day_factor(rules.time_of_day, local)
        signal_z = table.signal_factors(self._signal_factors(config, now))
        floor_z, ceil_z = table.limits(rules.max_multiplier)
        if len(self.graph) > known:
            # a cell that can have smoothed inputs, seen for the first time, brings the rings the neighbour
            # gap could lift around it ((zone ceiling - 1) / gap steps), so the graph stops growing early
            new = np.arange(known, len(self.graph))
            reach = np.ceil((ceil_z[self.zone_slot[new]] - 1.0) / rules.max_neighbor_gap - g.EPS).astype(np.int64)
            if self.graph.expand(new, np.maximum(reach, 0)):
                self._assign_new_cells()
        cap_z = table.caps(self.rollup, local.date()) if rules.emergency_mode == "cap" else ceil_z
        radius = self.graph.radius()
        touched = np.zeros(len(self.graph), dtype=bool)
        touched[changed_slots] = True
        touched[radius.rows(changed_slots)[1]] = True
        batches: list[TickBatch] = []
        shadow: list[ShadowSummary] = []
        priced = 0
        active = np.zeros(len(self.graph), dtype=bool)
        for vt in config.vehicle_types:
            st = self.state(vt)
            n = len(self.graph)
            if len(touched) < n:  # the neighbour gap of another vehicle type added cells
                touched = np.concatenate([touched, np.zeros(n - len(touched), dtype=bool)])
            p0 = np.flatnonzero(touched[:n] | st.live[:n])
            t = self._stateless(market, st, p0, table, now, hour, local.weekday(), tod, signal_z, rules.max_multiplier)
            shadow.extend(self._shadow(config, st, p0, table, now, hour, local.weekday(), tod, signal_z, vt))
            after_gap = self._gap(st, rules.max_neighbor_gap, ceil_z)
            n = len(self.graph)
            moved = np.abs(after_gap - st.target[:n]) > g.EPS
            st.target[:n] = after_gap
            moved[p0] = True
            p = np.flatnonzero(moved)
            priced += len(p)
            batches.append(self._serve(st, p, p0, t, table, now, config, tod, signal_z, floor_z, ceil_z, cap_z))
            if len(active) < n:
                active = np.concatenate([active, np.zeros(n - len(active), dtype=bool)])
            active[:n] |= (st.raw_supply[:n] > 0) | (st.raw_demand_5m[:n] > 0) | (st.raw_demand[:n] > 0)
        self.last_tick = now
        return TickResult(now, [b for b in batches if len(b)], priced, int(active.sum()), shadow)

    def _signal_factors(self, config: ConfigSnapshot, now: float) -> dict[str, float]:
        out: dict[str, float] = {}
        for sig in config.signals.values():
            if sig.active(now):
                out[sig.zone_id] = out.get(sig.zone_id, 1.0) * sig.factor
        return out

    def _inputs(self, st: VtState, p0: np.ndarray, table: ZoneTable, now: float, hour: float,
                weekday: int) -> PricingInputs:
        zpos = self.zone_slot[p0]
        dt_s = _dt(now, st.last_ts[p0], self.settings.tick_s, MAX_ALGORITHM_DT_S)
        return PricingInputs(st.sm_supply[p0], st.sm_demand[p0], st.sm_demand_5m[p0], st.pub_multiplier[p0],
                             table.min[zpos], table.max[zpos], dt_s, now, hour, weekday)

    def _stateless(self, market: MarketView, st: VtState, p0: np.ndarray, table: ZoneTable, now: float,
                   hour: float, weekday: int, tod: float, signal_z: np.ndarray, global_max: float) -> derive.Targets:
        """Inputs, smoothing, algorithms and guardrails 1-5 for cells ``p0``; stores the targets."""
        if len(p0):
            arrays = market.cell_arrays(self.graph.token_array[p0].tolist(), st.vehicle_type, now)
            st.raw_supply[p0], st.raw_on_trip[p0] = arrays.supply, arrays.on_trip
            st.raw_demand[p0], st.raw_demand_5m[p0] = arrays.demand_1m, arrays.demand_5m
            smoothed = blend(self.graph.radius(), p0, self.graph.total_weights(p0), st.raw_supply, st.raw_demand,
                             st.raw_demand_5m)
            st.sm_supply[p0], st.sm_demand[p0], st.sm_demand_5m[p0] = smoothed
        inputs = self._inputs(st, p0, table, now, hour, weekday)
        raw = np.ones(len(p0))
        zpos = self.zone_slot[p0]
        for z in np.unique(zpos):
            sel = zpos == z
            raw[sel] = derive.price_with(table.algorithms[z], _select(inputs, sel), st, table.algorithm_keys[z],
                                         p0[sel], True)
        t = derive.targets(raw, inputs.supply, inputs.demand, tod, signal_z[zpos], table.min[zpos], table.max[zpos],
                           global_max)
        st.pregap[p0] = t.global_max
        return t

    def _shadow(self, config: ConfigSnapshot, st: VtState, p0: np.ndarray, table: ZoneTable, now: float,
                hour: float, weekday: int, tod: float, signal_z: np.ndarray, vt: str) -> list[ShadowSummary]:
        out = []
        if not len(p0):
            return out
        inputs = self._inputs(st, p0, table, now, hour, weekday)
        zpos = self.zone_slot[p0]
        for name in config.rules.shadow_algorithms:
            algorithm = self.registry.create(name)
            raw = derive.price_with(algorithm, inputs, st, f"shadow:{name}", p0, True)
            t = derive.targets(raw, inputs.supply, inputs.demand, tod, signal_z[zpos], table.min[zpos],
                               table.max[zpos], config.rules.max_multiplier)
            live = st.pregap[p0]
            out.append(ShadowSummary(name, vt, len(p0), float(live.mean()), float(t.global_max.mean()),
                                     float(np.abs(t.global_max - live).max())))
        return out

    def _gap(self, st: VtState, gap: float, ceil_z: np.ndarray) -> np.ndarray:
        """Guardrail 6 over every cell. Around a cell at multiplier m the lift reaches (m - 1) / gap
        adjacency steps: those rings are added to the graph first (once), so one pass is exact."""
        n = len(self.graph)
        pre = st.pregap[:n]
        if not n or float(pre.max()) <= 1.0 + gap + g.EPS:
            return pre.copy()
        hot = np.flatnonzero(pre > 1.0 + gap + g.EPS)
        rings = np.ceil((pre[hot] - 1.0) / gap - g.EPS).astype(np.int64)
        if self.graph.expand(hot, rings):
            self._assign_new_cells()
            n = len(self.graph)
            pre = st.pregap[:n]
        return neighbor_gap(self.graph.adjacent(), pre, gap, ceil_z[self.zone_slot[:n]])

    def _serve(self, st: VtState, p: np.ndarray, p0: np.ndarray, t: derive.Targets, table: ZoneTable, now: float,
               config: ConfigSnapshot, tod: float, signal_z: np.ndarray, floor_z: np.ndarray, ceil_z: np.ndarray,
               cap_z: np.ndarray) -> TickBatch:
        """Guardrails 7-10 for cells ``p``, the publish decision and the new state."""
        rules = config.rules
        zp = self.zone_slot[p]
        dt_rate = _dt(now, st.last_ts[p], self.settings.tick_s, self.settings.tick_s)
        srv = derive.serve(st.target[p], st.value[p], st.pending[p], st.since[p], now, rules, dt_rate, floor_z[zp],
                           ceil_z[zp], table.step[zp], cap_z[zp])
        st.value[p], st.pending[p], st.since[p], st.last_ts[p] = srv.value, srv.pending, srv.since, now
        new, old = srv.emergency, st.pub_multiplier[p].copy()
        level = levels.demand_level(st.sm_demand[p], st.sm_supply[p], rules.demand_level_thresholds)
        trend = levels.trend(st.sm_demand[p], st.sm_demand_5m[p], self.settings.trend_band)
        supply, demand = st.raw_supply[p], st.raw_demand[p]
        pub_s, pub_d = st.pub_supply[p], st.pub_demand[p]
        audit = np.abs(new - old) > g.EPS
        publish = (audit | (level != st.pub_level[p]) | (trend != st.pub_trend[p])
                   | (np.abs(supply - pub_s) >= np.maximum(1.0, INPUT_CHANGE * pub_s))
                   | (np.abs(demand - pub_d) >= np.maximum(1.0, INPUT_CHANGE * pub_d)))
        quiet = ((supply <= 0) & (demand <= 0) & (st.raw_demand_5m[p] <= 0) & (st.raw_on_trip[p] <= 0)
                 & (st.sm_supply[p] <= 0) & (st.sm_demand_5m[p] <= 0))
        settled = ((np.abs(srv.value - 1.0) < g.EPS) & (srv.pending == 0) & (np.abs(st.target[p] - 1.0) < g.EPS)
                   & (np.abs(new - 1.0) < g.EPS))
        st.live[p] = ~(quiet & settled)
        # causes of the audited changes: cells priced this tick have their full targets, cells only
        # moved by the neighbour gap carry their stored target through every stateless step
        full = self._targets_for(p, p0, t, st)
        cause = derive.causes(old, new, full, st.target[p], srv, rules.emergency_mode, tod, signal_z[zp])
        rows = np.flatnonzero(publish)
        st.pub_multiplier[p[rows]] = new[rows]
        st.pub_level[p[rows]], st.pub_trend[p[rows]] = level[rows], trend[rows]
        st.pub_supply[p[rows]], st.pub_demand[p[rows]] = supply[rows], demand[rows]
        slots = p[rows]
        self._observe(table, zp[rows], new[rows], audit[rows], now)
        zone_names = np.asarray(table.ids, dtype=object)
        algorithm_names = np.asarray(table.algorithm_names, dtype=object)
        return TickBatch(
            st.vehicle_type, self.graph.token_array[slots].tolist(), zone_names[zp[rows]].tolist(),
            algorithm_names[zp[rows]].tolist(), new[rows], old[rows], supply[rows].copy(), demand[rows].copy(),
            level[rows], trend[rows], audit[rows],
            np.where(audit[rows], derive.REASONS[(new[rows] > old[rows]) * len(derive.CAUSES) + cause[rows]],
                     "").tolist())

    def _targets_for(self, p: np.ndarray, p0: np.ndarray, t: derive.Targets, st: VtState) -> derive.Targets:
        stored = st.pregap[p]
        cols = [stored.copy() for _ in derive.Targets._fields]
        cols[derive.Targets._fields.index("empty")] = np.zeros(len(p), dtype=bool)
        where = np.searchsorted(p, p0)
        for i, name in enumerate(derive.Targets._fields):
            cols[i][where] = getattr(t, name)
        return derive.Targets(*cols)

    # the 60-day rollup -----------------------------------------------------------------------------
    def _observe(self, table: ZoneTable, zones: np.ndarray, values: np.ndarray, audited: np.ndarray,
                 now: float) -> None:
        if not audited.any():
            return
        day = self._day.isoformat() if self._day else g.local_time(now, self.tz).date().isoformat()
        best = np.zeros(len(table.ids))
        np.maximum.at(best, zones[audited], values[audited])
        for z in np.flatnonzero(best).tolist():
            self.rollup.observe(table.ids[z], day, float(best[z]))

    def _roll_day(self, today: dt.date, config: ConfigSnapshot) -> None:
        """On a new local day, what is served at midnight counts for the new day too."""
        if self._day == today:
            return
        first = self._day is None
        self._day = today
        self.rollup.prune(today)
        if first:
            return
        for st in self.states.values():
            n = min(len(self._zone_ids), st.capacity)
            hot = np.flatnonzero(st.pub_multiplier[:n] > 1.0 + g.EPS)
            for slot in hot.tolist():
                self.rollup.observe(self._zone_ids[slot], today.isoformat(), float(st.pub_multiplier[slot]))


__all__ = ["PricingCore", "ShadowSummary", "TickBatch", "TickResult"]

"""The simulation loop: one run per algorithm over the same city, scenario and riders.

Time advances in steps of ``step_s`` simulated seconds (default 5 s). Each step, in order:

1. drivers move along their legs (pickups reached start trips; trips ended pay the driver);
2. the step's trip intents arrive, see the multiplier served in their cell and request or not; every
   intent is a demand signal for the market (``quote``, or ``request`` when it requested);
3. riders whose patience ran out abandon; waiting requests are matched nearest-first to available
   drivers within the reach of ``max_pickup_s`` (:mod:`.matching`), and the drivers set off;
4. drivers log in or off (earnings) and reposition toward higher multipliers;
5. the market (supply, on-trip, demand windows per cell) takes the step, and the pricing core ticks
   when a pricing tick is due and pricing is up: once every ``round(pricing.tick_s / step_s)`` steps
   (at least one), with the core's ``tick_s`` set to the simulated time between its ticks, so the
   guardrails' rates per tick (``max_change_per_min``) and the algorithms' ``dt_s`` stay per second.

With the default 5 s step the core prices every 5 simulated seconds instead of every second: the
hysteresis timers (3 s to rise, 10 s to fall) then act on the next tick after they expire, a
difference of seconds against markets that move over minutes (README: ``--step-s 1`` reproduces the
same comparison). Before ``t = 0`` a warm-up at the scenario's first demand level fills the windows
and spreads the fleet over the city; it is not recorded. Every algorithm starts from the same seed:
the same fleet, and the same riders with the same draws (:mod:`.riders`).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple
from zoneinfo import ZoneInfo

import msgspec
import numpy as np

from ..errors import ConfigError
from ..pricing import fares
from ..pricing.registry import AlgorithmRegistry
from ..settings import Settings
from .city import City
from .drivers import IDLE, Drivers
from .market import SimMarket
from .matching import match_nearest
from .model import MarketModel
from .pricing import check_algorithms, make_pricer
from .record import Recorder
from .riders import Queue, arrivals, request_probability
from .scenarios import Plan, get_scenario


class SimSpec(msgspec.Struct, frozen=True, kw_only=True):
    """What to simulate."""

    scenario: str = "concert"
    algorithms: tuple[str, ...] = ("none", "linear", "exponential", "equilibrium")
    minutes: float = 120.0
    seed: int = 1
    step_s: float = 5.0
    warmup_min: float = 15.0
    model: MarketModel = MarketModel()


class RunResult(NamedTuple):
    """One algorithm's run."""

    algorithm: str
    record: Recorder
    wall_s: float
    pricing_s: float  # of which in the pricing core
    ticks: int


@dataclass
class World:
    """What every run of a comparison shares: settings, city, plan, demand layout."""

    spec: SimSpec
    settings: Settings
    city: City
    plan: Plan
    tz: ZoneInfo
    origin_rate: np.ndarray  # expected intents per cell per step at level 1.0
    dest_p: np.ndarray
    hot: np.ndarray  # cells with the scenario's extra demand
    focus: np.ndarray  # the cells the scenario is about: its hot cells, else the whole city
    registry: AlgorithmRegistry

    @property
    def steps(self) -> int:
        """Steps of a run, warm-up included."""
        return round((self.spec.warmup_min * 60.0 + self.plan.duration_s) / self.spec.step_s)

    @property
    def warmup_steps(self) -> int:
        """Steps before ``t = 0``."""
        return round(self.spec.warmup_min * 60.0 / self.spec.step_s)


def build_world(spec: SimSpec, settings: Settings, registry: AlgorithmRegistry | None = None) -> World:
    """Check the spec and lay out the city and the scenario."""
    registry = registry or AlgorithmRegistry()
    if spec.step_s <= 0 or abs(60.0 / spec.step_s - round(60.0 / spec.step_s)) > 1e-9:
        raise ConfigError(f"step must divide 60 s (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60), got {spec.step_s}",
                          field="step_s")
    if spec.minutes <= 0 or spec.warmup_min < 0:
        raise ConfigError("minutes must be > 0 and the warm-up >= 0", field="minutes")
    if not spec.algorithms:
        raise ConfigError("no algorithm to simulate", field="algorithms")
    check_algorithms(list(spec.algorithms), registry)
    scenario = get_scenario(spec.scenario)
    tz = ZoneInfo(settings.timezone)
    city = City(settings, spec.model.zone_weight)
    plan = scenario.plan(spec.minutes, tz)
    origin_w = city.weight * np.where(city.in_zone, scenario.origin_zone_factor, 1.0)
    origin_rate = spec.model.riders_per_min * spec.step_s / 60.0 * origin_w / origin_w.sum()
    dest_w = city.weight * np.where(city.in_zone, scenario.destination_zone_factor, 1.0)
    hot = np.zeros(len(city), dtype=bool)
    for lat, lng in scenario.hot_points:
        lat_lo, lng_lo, lat_hi, lng_hi = city.bounds
        if not (lat_lo <= lat <= lat_hi and lng_lo <= lng <= lng_hi):
            raise ConfigError(f"the scenario's venue ({lat}, {lng}) is outside the simulated city {city.bounds}",
                              field="scenario")
        x, y = city.to_xy(np.array([lat]), np.array([lng]))
        hot[city.cell_of(x, y)] = True
    focus = hot if hot.any() else np.ones(len(city), dtype=bool)
    return World(spec, settings, city, plan, tz, origin_rate, dest_w / dest_w.sum(), hot, focus, registry)


class Simulation:
    """One algorithm's run over a world (see the module docstring)."""

    def __init__(self, world: World, algorithm: str) -> None:
        self.world = world
        self.algorithm = algorithm
        spec, settings = world.spec, world.settings
        self.model = spec.model
        self.every = max(1, round(settings.pricing.tick_s / spec.step_s))
        self.pricer = make_pricer(algorithm, settings, world.city, self.every * spec.step_s, world.registry)
        seq = np.random.SeedSequence(spec.seed)
        rider_seed, driver_seed = seq.spawn(2)
        self.rng_riders = np.random.default_rng(rider_seed)
        self.drivers = Drivers(self.model, world.city, settings.driver.base_hourly_earnings,
                               np.random.default_rng(driver_seed))
        self.queue = Queue()
        self.market = SimMarket(world.city.tokens, spec.step_s)
        self.record = Recorder(world.steps - world.warmup_steps, len(world.city))
        self.fare = settings.fares[next(iter(settings.fares))]
        self.weights = (settings.market.weight_quote, settings.market.weight_request)

    def run(self, progress: Callable[[int], None] | None = None) -> RunResult:
        """Run every step; ``progress(1)`` after each."""
        world = self.world
        started = time.perf_counter()
        pricing_s = 0.0
        for k in range(world.steps):
            t = (k + 1 - world.warmup_steps) * world.spec.step_s
            now = world.plan.start_epoch + t
            self.step(k - world.warmup_steps, t, now)
            if k % self.every == 0 and not world.plan.pricing_down(t):
                t0 = time.perf_counter()
                self.pricer.tick(self.market, now)
                pricing_s += time.perf_counter() - t0
            if progress is not None:
                progress(1)
        return RunResult(self.algorithm, self.record, time.perf_counter() - started, pricing_s,
                         getattr(self.pricer, "ticks", 0))

    def step(self, k: int, t: float, now: float) -> None:
        """One step (``k`` < 0 during the warm-up)."""
        world, model, drivers, queue, rec = self.world, self.model, self.drivers, self.queue, self.record
        city, plan, step_s = world.city, world.plan, world.spec.step_s
        hour = dt.datetime.fromtimestamp(now, world.tz).hour
        _picked, done, pay = drivers.advance(now)
        drivers.account(step_s, done, pay)
        if k >= 0:  # drivers are paid at the drop-off; the warm-up's pay is not the run's
            rec.earned += float(pay.sum())
        served = self.pricer.served(now)
        # riders arrive, see the price, request or not
        rate = world.origin_rate * plan.level(t)
        hot_now = plan.hot_active(t)
        if hot_now:
            rate = np.where(world.hot, rate * plan.scenario.hot_factor, rate)
        intents = arrivals(city, rate, world.dest_p, model, self.rng_riders)
        quoted = served[intents.cell]
        requested = intents.draw < request_probability(quoted, model.elasticity)
        demand = np.bincount(intents.cell, weights=np.where(requested, self.weights[1], self.weights[0]),
                             minlength=len(city))
        event = self._event(t, intents.cell)
        focus = world.focus[intents.cell]
        if k >= 0:
            ids = rec.request(t, event[requested], focus[requested], quoted[requested])
            rec.step(k, t, intents.cell, quoted, event, focus, drivers.counts())
            if t % 60.0 == 0.0:
                rec.minute_served.append(served.copy())
        else:
            ids = np.full(int(requested.sum()), -1, dtype=np.int64)
        r = requested
        queue.add(id=ids, cell=intents.cell[r], x=intents.x[r], y=intents.y[r], dest_x=intents.dest_x[r],
                  dest_y=intents.dest_y[r], t_request=np.full(int(r.sum()), t), deadline=now + intents.patience_s[r],
                  multiplier=quoted[r])
        # patience, then dispatch
        gone = queue.expired(now)
        rec.abandoned(queue["id"][gone])
        queue.remove(gone)
        self._dispatch(t, now, hour)
        # drivers decide
        mean_m = float((served * rate).sum() / max(rate.sum(), 1e-12))
        logins, logoffs = drivers.shift(step_s, mean_m)
        moves = drivers.reposition(step_s, served, now, hour)
        if k >= 0:
            rec.logins += logins
            rec.logoffs += logoffs
            rec.repositions += moves
        online = drivers.status != 0
        idle = drivers.status == IDLE
        self.market.update(now, drivers.cell[idle], drivers.cell[online & ~idle], demand)

    def _event(self, t: float, cells: np.ndarray) -> np.ndarray:
        plan = self.world.plan
        if plan.event is None or not plan.event.contains(t):
            return np.zeros(len(cells), dtype=bool)
        return self.world.focus[cells]

    def _dispatch(self, t: float, now: float, hour: int) -> None:
        drivers, queue, city, model = self.drivers, self.queue, self.world.city, self.model
        if not len(queue):
            return
        idle = drivers.idle()
        reach_m = max(0.0, model.max_pickup_s - model.pickup_overhead_s) * city.speed_ms(hour) / city.detour
        m = match_nearest(queue["x"], queue["y"], drivers.x[idle], drivers.y[idle], reach_m)
        if not len(m.requests):
            return
        rows, chosen = m.requests, idle[m.drivers]
        eta = model.pickup_overhead_s + city.drive_s(m.distance_m, hour)
        px, py = queue["x"][rows], queue["y"][rows]
        qx, qy = queue["dest_x"][rows], queue["dest_y"][rows]
        km = np.hypot(qx - px, qy - py) * city.detour / 1000.0
        speed_kmh = city.speed_kmh_by_hour[hour]
        minutes = [fares.trip_duration_min(d, speed_kmh) for d in km.tolist()]
        cents = np.array([fares.price(self.fare, fares.Trip(d, mins), mult).final_cents
                          for d, mins, mult in zip(km.tolist(), minutes, queue["multiplier"][rows].tolist(),
                                                   strict=True)], dtype=np.int64)
        drivers.dispatch(chosen, px, py, eta, now, qx, qy, np.array(minutes) * 60.0,
                         cents / 100.0 * model.driver_share)
        self.record.matched(queue["id"][rows], t - queue["t_request"][rows], eta, cents)
        queue.remove(rows)


def simulate(spec: SimSpec, settings: Settings, progress: Callable[[str, int], None] | None = None,
             registry: AlgorithmRegistry | None = None) -> tuple[World, list[RunResult]]:
    """Run every algorithm of ``spec``; ``progress(algorithm, steps)`` as they advance."""
    world = build_world(spec, settings, registry)
    results = []
    for name in spec.algorithms:
        sim = Simulation(world, name)
        results.append(sim.run(None if progress is None else (lambda n, name=name: progress(name, n))))
    return world, results


def algorithm_list(text: str) -> tuple[str, ...]:
    """``"none,linear"`` -> ``("none", "linear")`` (blanks ignored, duplicates dropped)."""
    out: list[str] = []
    for part in text.split(","):
        name = part.strip()
        if name and name not in out:
            out.append(name)
    return tuple(out)


def describe(world: World) -> Sequence[str]:
    """Lines describing a world (printed above the table)."""
    spec, plan, city = world.spec, world.plan, world.city
    start = dt.datetime.fromtimestamp(plan.start_epoch, world.tz)
    lines = [f"scenario {plan.scenario.name}: {plan.scenario.description}",
             f"start {start:%a %Y-%m-%d %H:%M} {world.settings.timezone}, {spec.minutes:g} min "
             f"(+{spec.warmup_min:g} min warm-up), step {spec.step_s:g} s, seed {spec.seed}",
             f"city: {len(city)} cells at level {city.level}, {spec.model.drivers} drivers, "
             f"{spec.model.riders_per_min:g} trip intents/min at the base level, elasticity {spec.model.elasticity:g}"]
    for label, window in (("event", plan.event), ("pricing down", plan.outage)):
        if window is not None:
            lines.append(f"{label}: minutes {window.start_s / 60:g} to {window.end_s / 60:g}")
    return lines


__all__ = ["RunResult", "SimSpec", "Simulation", "World", "algorithm_list", "build_world", "describe", "simulate"]

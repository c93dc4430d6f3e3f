"""Pricing tick benchmark: one tick over N changed cells with smoothing (goal: 20k cells in <= 50 ms).

    python benchmarks/pricing.py [--cells 20000] [--ticks 15] [--vehicle-types 1]

Every cell's demand changes every tick (the worst case: all cells "changed"), over a rectangle of
level-13 cells around the San Francisco bay with the bundled zones and rules. Measured in the same run:

- **tick**: the engine's tick (market read, smoothing, algorithms, the ten guardrails, neighbour gap,
  publish decision) after warm-up;
- **tick without smoothing** (radius 0): what smoothing costs;
- **naive per-cell Python** of the same maths (dicts and loops, on a sample, scaled to N): the baseline
  the vectorised tick is compared with;
- **encode**: turning the tick's updates into contract JSON (what the publisher adds before NATS);
- **cold start**: the first tick, which builds the cell graph (S2 neighbours, radius pairs);
- **tick reading the real MarketState** (issue 3's in-memory state, ~6 drivers and ~5 riders per
  cell, one new request in every cell per tick): the same tick with the node's own market reads.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Sequence

import msgspec
import numpy as np

from equilibrium_node.__main__ import BUNDLED_CONFIG
from equilibrium_node.bus.names import RegionNames
from equilibrium_node.geo import cells
from equilibrium_node.live_config import ConfigStore
from equilibrium_node.market.state import MarketState
from equilibrium_node.market.view import CellArrays, CellStats
from equilibrium_node.pricing.core import PricingCore
from equilibrium_node.publish.surge import SurgeEncoder
from equilibrium_node.settings import load_settings


class ArrayMarket:
    """A MarketView over numpy columns: every cell changes every tick."""

    def __init__(self, tokens: Sequence[str], seed: int) -> None:
        self.tokens = list(tokens)
        self.index = {t: i for i, t in enumerate(self.tokens)}
        self.rng = np.random.default_rng(seed)
        n = len(self.tokens)
        self.supply = self.rng.poisson(6, n).astype(float)
        self.demand = np.zeros(n)
        self.version = 0
        self._now = 1_790_000_000.0
        self.step()

    def step(self) -> None:
        """New demand everywhere (a hot spot here and there)."""
        n = len(self.tokens)
        self.demand = self.rng.poisson(5, n) * (1 + 4 * (self.rng.random(n) < 0.02))
        self.version += 1
        self._now += 1.0

    @property
    def applied_seq(self) -> int:
        return self.version

    def now(self) -> float:
        return self._now

    def cell_stats(self, cell, vehicle_type, now=None):
        i = self.index.get(cell)
        if i is None:
            return CellStats(0, 0, 0.0, 0.0)
        return CellStats(int(self.supply[i]), 0, float(self.demand[i]), float(self.demand[i] * 5))

    def cell_arrays(self, cells_: Sequence[str], vehicle_type: str, now=None) -> CellArrays:
        idx = np.fromiter((self.index.get(c, -1) for c in cells_), dtype=np.int64, count=len(cells_))
        known = idx >= 0
        s, d = np.zeros(len(idx)), np.zeros(len(idx))
        s[known], d[known] = self.supply[idx[known]], self.demand[idx[known]]
        return CellArrays(s, np.zeros(len(idx)), d, d * 5)

    def active_cells(self):
        return self.tokens

    def changed_since(self, version: int):
        return (set(self.tokens) if version < self.version else set()), self.version

    def driver(self, driver_id):
        return None


class RealMarket:
    """Issue 3's MarketState filled with drivers and riders in every cell; ``step`` adds a request everywhere."""

    def __init__(self, tokens: Sequence[str], settings, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.clock = 1_790_000_000.0
        self.state = MarketState(settings.market, wall_clock=lambda: self.clock)
        self.tokens = list(tokens)
        self.seq = 0
        centres = [cells.center(t) for t in self.tokens]
        drivers = rng.poisson(6, len(self.tokens))
        d_cells = np.repeat(np.arange(len(self.tokens)), drivers)
        n = len(d_cells)
        self.state.apply_pings([f"d{i}" for i in range(n)], [self.tokens[c] for c in d_cells], ["standard"] * n,
                               [0] * n, [centres[c][0] for c in d_cells], [centres[c][1] for c in d_cells],
                               [self.clock] * n, [self.clock] * n)
        self.riders = 0
        self.step(rng.poisson(5, len(self.tokens)))

    def step(self, per_cell=None) -> None:
        """One request in every cell (or ``per_cell`` of them), one second later."""
        counts = np.ones(len(self.tokens), dtype=np.int64) if per_cell is None else per_cell
        r_cells = np.repeat(np.arange(len(self.tokens)), counts)
        n = len(r_cells)
        ids = [f"r{self.riders + i}" for i in range(n)]
        self.riders += n
        self.clock += 1.0
        self.state.apply_signals(ids, [self.tokens[c] for c in r_cells], ["standard"] * n, [2] * n, [self.clock] * n)
        self.seq += 1
        self.state.commit_batch(self.seq, self.clock)
        self.state.caught_up = True


def grid(n: int, level: int) -> list[str]:
    """About ``n`` distinct level cells in a rectangle around the bay."""
    side = math.sqrt(n * 1.05)
    lat0, lng0 = 37.0, -122.9
    d_lat = 0.0098 * (side / 100)
    d_lng = 0.0124 * (side / 100)
    out = set()
    for a in np.linspace(lat0, lat0 + d_lat * 100, int(side)):
        for b in np.linspace(lng0, lng0 + d_lng * 100, int(side)):
            out.add(cells.cell_token(float(a), float(b), level))
    return sorted(out)[:n]


def naive_tick(tokens, market, neighbours, zone_of, zones, rules, served, now, tick_s) -> dict[str, float]:
    """The same maths one cell at a time in plain Python (no numpy): the baseline."""
    out = {}
    for t in tokens:
        total_w = s = d = 0.0
        for other, w in neighbours[t]:
            st = market.cell_stats(other, "standard")
            total_w += w
            s += w * st.supply
            d += w * st.demand_1m
        s, d = s / total_w, d / total_w
        zone = zones.get(zone_of[t])
        lo, hi = (zone.min_multiplier, zone.max_multiplier) if zone else (1.0, 3.0)
        factor = zone.params.get("factor", 0.5) if zone else 0.5
        if s <= 0 and d <= 0:
            x = 1.0
        elif s <= 0:
            x = hi
        else:
            r = d / s
            x = 1 + (r - 1) * factor if r > 1 else 1.0
        x = min(max(x, lo), hi, rules.max_multiplier)
        old = served.get(t, 1.0)
        bound = rules.max_change_per_min * tick_s / 60
        x = old + max(-bound, min(bound, x - old))
        out[t] = math.floor(x / 0.1 + 0.5) * 0.1
    return out


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=20_000)
    parser.add_argument("--ticks", type=int, default=15)
    parser.add_argument("--vehicle-types", type=int, default=1, choices=(1, 2, 3))
    parser.add_argument("--naive-sample", type=int, default=2000)
    args = parser.parse_args(argv)

    settings = load_settings(BUNDLED_CONFIG, env={})
    fares = dict(list(settings.fares.items())[: args.vehicle_types])
    settings = msgspec.structs.replace(settings, fares=fares)
    store = ConfigStore(settings.region, settings.cell_level, settings)
    config = store.current
    print(f"building {args.cells} level-{settings.cell_level} cells ...", flush=True)
    tokens = grid(args.cells, settings.cell_level)
    print(f"cells: {len(tokens)}, vehicle types: {len(config.vehicle_types)}, ticks: {args.ticks}")

    results = {}
    radii = (("tick with smoothing", settings.pricing.smoothing_radius_m), ("tick without smoothing", 0.0))
    for label, radius in radii:
        pricing = msgspec.structs.replace(settings.pricing, smoothing_radius_m=radius)
        core = PricingCore(settings.region, settings.timezone, pricing)
        market = ArrayMarket(tokens, seed=1)
        t0 = time.perf_counter()
        core.tick(market, config, market.now())
        cold = (time.perf_counter() - t0) * 1000

        last = {}

        def one(core=core, market=market, last=last) -> None:
            market.step()
            last["result"] = core.tick(market, config, market.now())

        for _ in range(3):
            one()
        times = timed(one, args.ticks)
        results[label] = (statistics.median(times), max(times), cold, last["result"])

    encoder = SurgeEncoder(RegionNames(settings.region))
    result = results["tick with smoothing"][3]
    messages = sum(len(b) for b in result.batches) * 2

    def encode() -> None:
        for batch in result.batches:
            encoder.messages(encoder.updates(batch, result.now))

    encode_ms = statistics.median(timed(encode, 3))

    real = RealMarket(tokens, settings, seed=1)
    core = PricingCore(settings.region, settings.timezone, settings.pricing)
    core.tick(real.state, config, real.state.now())

    def real_tick() -> None:
        real.step()
        t0 = time.perf_counter()
        core.tick(real.state, config, real.state.now())
        real_times.append((time.perf_counter() - t0) * 1000)

    real_times: list[float] = []
    for _ in range(3 + args.ticks):
        real_tick()
    real_times = real_times[3:]
    t0 = time.perf_counter()
    real.state.cell_arrays(tokens, "standard")
    read_ms = (time.perf_counter() - t0) * 1000


    # naive baseline on a sample, scaled to the full count
    sample = tokens[: args.naive_sample]
    core = PricingCore(settings.region, settings.timezone, settings.pricing)
    market = ArrayMarket(tokens, seed=1)
    core.tick(market, config, market.now())  # builds the graph used for the naive neighbour lists
    radius = core.graph.radius()
    neighbours = {}
    for t in sample:
        slot = core.graph.slot[t]
        lo, hi = radius.indptr[slot], radius.indptr[slot + 1]
        neighbours[t] = [(core.graph.tokens[j], w) for j, w in zip(radius.indices[lo:hi], radius.data[lo:hi],
                                                                   strict=True)]
    zone_of = {t: config.zone_index.zone_of_cell(t) for t in sample}
    naive = timed(lambda: naive_tick(sample, market, neighbours, zone_of, config.zones, config.rules, {},
                                     market.now(), settings.pricing.tick_s), 3)
    naive_ms = statistics.median(naive) * len(tokens) / len(sample) * len(config.vehicle_types)

    smooth, _, cold, res = results["tick with smoothing"]
    plain = results["tick without smoothing"][0]
    print()
    print(f"{'what':44s} {'median ms':>10s} {'max ms':>8s}")
    print(f"{'tick with smoothing (' + str(len(tokens)) + ' changed cells)':44s} {smooth:10.1f} "
          f"{results['tick with smoothing'][1]:8.1f}")
    print(f"{'tick without smoothing (baseline, same run)':44s} {plain:10.1f} "
          f"{results['tick without smoothing'][1]:8.1f}")
    print(f"{'naive per-cell Python (baseline, scaled)':44s} {naive_ms:10.1f}")
    print(f"{'encode updates to JSON (' + str(messages // 2) + ' updates)':44s} {encode_ms:10.1f}")
    print(f"{'cold start (first tick, builds the graph)':44s} {cold:10.1f}")
    print(f"{'tick reading the real MarketState':44s} {statistics.median(real_times):10.1f} {max(real_times):8.1f}")
    print(f"{'  of which MarketState.cell_arrays, 1 vt':44s} {read_ms:10.1f}")
    print()
    print(f"smoothing costs x{smooth / plain:.2f} of the tick without it; the vectorised tick is "
          f"x{naive_ms / smooth:.1f} faster than naive Python")
    print(f"goal <= 50 ms for 20k cells: {'met' if smooth <= 50 else 'NOT met'} ({smooth:.1f} ms, "
          f"{res.priced} cell-vehicle pairs priced, {res.updates} updates)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Market simulator speed: a 5 000-driver city for 120 simulated minutes, per algorithm, same run.

    .venv/bin/python benchmarks/simulate.py                          # the default comparison (concert)
    .venv/bin/python benchmarks/simulate.py --minutes 30 --drivers 1000   # smoke

Runs ``equilibrium-node simulate``'s default comparison in process, one algorithm after another on
the same world (city, scenario, riders), and prints for each run the wall time, the simulated minutes
per wall second (warm-up included) and the time spent inside the pricing core. The **baseline** is
the ``none`` run of the same process: the same agents, market and dispatch without the pricing core,
so a surge run's excess over it is the pricing core's share (plus what its prices change in the
market: repositioning, fewer requests). The goal is the whole default comparison (four algorithms,
120 minutes of a 5 000-driver city) in under 60 s on one core. Single-threaded: numpy is asked for
one BLAS thread (the simulator does no linear algebra, so this changes nothing but makes "one core"
explicit).
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import time

import msgspec

from equilibrium_node.__main__ import BUNDLED_CONFIG
from equilibrium_node.settings import load_settings
from equilibrium_node.sim.model import MarketModel
from equilibrium_node.sim.runner import SimSpec, Simulation, algorithm_list, build_world


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="concert")
    parser.add_argument("--algorithms", default="none,linear,exponential,equilibrium",
                        help="the first one is the baseline (default none)")
    parser.add_argument("--minutes", type=float, default=120.0)
    parser.add_argument("--drivers", type=int, default=5000, help="fleet size; demand scales with it")
    parser.add_argument("--step-s", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    settings = load_settings(BUNDLED_CONFIG, env={})
    model = MarketModel().scaled(args.drivers / MarketModel().drivers)
    model = msgspec.structs.replace(model, drivers=args.drivers)
    spec = SimSpec(scenario=args.scenario, algorithms=algorithm_list(args.algorithms), minutes=args.minutes,
                   seed=args.seed, step_s=args.step_s, model=model)
    t0 = time.perf_counter()
    world = build_world(spec, settings)
    setup_s = time.perf_counter() - t0
    sim_min = spec.warmup_min + spec.minutes
    print(f"{args.scenario}: {len(world.city)} cells, {model.drivers} drivers, {model.riders_per_min:g} intents/min, "
          f"{spec.minutes:g} min + {spec.warmup_min:g} min warm-up, step {spec.step_s:g} s "
          f"({world.steps} steps per run); world built in {setup_s:.2f} s")
    print()
    print(f"{'run':14s} {'wall s':>8s} {'sim min/s':>10s} {'core s':>8s} {'core ticks':>11s} {'ms/step':>8s} "
          f"{'vs baseline':>12s}")
    rows = []
    for name in spec.algorithms:
        result = Simulation(world, name).run()
        rows.append(result)
        base = rows[0].wall_s
        label = f"{name} (baseline)" if len(rows) == 1 else name
        print(f"{label:14s} {result.wall_s:8.2f} {sim_min / result.wall_s:10.1f} {result.pricing_s:8.2f} "
              f"{result.ticks:11d} {result.wall_s / world.steps * 1000:8.2f} {result.wall_s / base:11.2f}x",
              flush=True)
    total = sum(r.wall_s for r in rows) + setup_s
    core = sum(r.pricing_s for r in rows)
    surge = rows[1:]
    print()
    print(f"whole comparison ({len(rows)} algorithms): {total:.1f} s wall, "
          f"{len(rows) * sim_min / total:.1f} simulated min/s; pricing core {core:.1f} s ({core / total:.0%})")
    if surge:
        per_tick = sum(r.pricing_s for r in surge) / max(1, sum(r.ticks for r in surge)) * 1000
        agents = rows[0].wall_s / world.steps * 1000
        print(f"per step: agents, market and dispatch {agents:.2f} ms (baseline); pricing core {per_tick:.2f} ms "
              f"per tick")
    goal = 60.0
    print(f"goal: the default comparison in < {goal:g} s: {'met' if total < goal else 'NOT met'} ({total:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

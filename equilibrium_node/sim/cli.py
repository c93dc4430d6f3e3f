"""``equilibrium-node simulate``: run the market simulator and compare pricing algorithms.

    equilibrium-node simulate --scenario concert --algorithms none,linear,exponential,equilibrium \\
        --minutes 120 --seed 1 --out DIR

Prints the run's description and a table of outcomes per algorithm on stdout (plus the event
window's figures), a progress bar on stderr, and with ``--out`` writes ``DIR/report.json`` and
``DIR/report.png``. Needs no NATS: the simulator runs the pricing core in process. Heavy imports
(numpy, the pricing core, matplotlib) happen when the command runs, not when the CLI is built.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import ExitCode

ALGORITHMS = "none,linear,exponential,equilibrium"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The simulate options."""
    from .scenarios import SCENARIOS

    parser.add_argument("--scenario", default="concert",
                        help=f"one of {', '.join(SCENARIOS)} (default concert)")
    parser.add_argument("--algorithms", default=ALGORITHMS,
                        help=f"comma-separated pricing algorithms, 'none' for no surge (default {ALGORITHMS})")
    parser.add_argument("--minutes", type=float, default=120.0, help="simulated minutes (default 120)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--out", help="directory for report.json and report.png")
    parser.add_argument("--drivers", type=int, help="drivers in the fleet (default 5000)")
    parser.add_argument("--riders-per-min", type=float, help="trip intents per minute at the base level (default 125)")
    parser.add_argument("--elasticity", type=float, help="riders' price elasticity (default -0.6)")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="scale the fleet and the demand together, e.g. 0.2 for a quick run (default 1)")
    parser.add_argument("--step-s", type=float, default=5.0, help="simulated seconds per step (divides 60; default 5)")
    parser.add_argument("--warmup-min", type=float, default=15.0, help="unrecorded warm-up minutes (default 15)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def spec_from_args(args: argparse.Namespace):  # -> SimSpec (imported lazily)
    """The simulation asked for on the command line."""
    import msgspec

    from ..errors import ConfigError
    from .model import MarketModel
    from .runner import SimSpec, algorithm_list

    overrides = {k: v for k, v in (("drivers", args.drivers), ("riders_per_min", args.riders_per_min),
                                   ("elasticity", args.elasticity)) if v is not None}
    try:
        model = msgspec.convert(overrides, MarketModel) if overrides else MarketModel()
    except msgspec.ValidationError as exc:
        raise ConfigError(str(exc), field="simulate") from None
    if args.scale <= 0:
        raise ConfigError("must be > 0", field="scale")
    if args.scale != 1.0:
        model = model.scaled(args.scale)
    return SimSpec(scenario=args.scenario, algorithms=algorithm_list(args.algorithms), minutes=args.minutes,
                   seed=args.seed, step_s=args.step_s, warmup_min=args.warmup_min, model=model)


def main(args: argparse.Namespace) -> int:
    """Run the simulation; exit code 0, or 2 for a bad option (raised as ConfigError)."""
    from ..progress import Progress
    from . import report
    from .runner import Simulation, build_world, describe

    settings = args.settings
    spec = spec_from_args(args)
    world = build_world(spec, settings)
    out = Path(args.out) if args.out else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    minutes = spec.warmup_min + spec.minutes
    progress = Progress("simulate", world.steps * len(spec.algorithms), quiet_s=0.0, unit="steps", quiet=args.quiet)

    def advance(name: str, steps: int) -> None:
        done = progress.done + steps
        in_run = (done - 1) % world.steps + 1
        progress.update(done, f"{name} {in_run / world.steps * minutes:.0f}/{minutes:g} min")

    results = []
    for name in spec.algorithms:
        sim = Simulation(world, name)
        results.append(sim.run(lambda n, name=name: advance(name, n)))
    progress.finish()
    summaries = report.report(results, world)
    print("\n".join(describe(world)))
    print()
    print(report.table(summaries, event=True))
    wall = sum(r.wall_s for r in results)
    core = sum(r.pricing_s for r in results)
    print(f"\nwall {wall:.1f} s for {len(results)} x {spec.warmup_min + spec.minutes:g} simulated minutes "
          f"(pricing core {core:.1f} s)")
    if out is not None:
        report.write_json(out / "report.json", summaries)
        from .chart import render

        render(out / "report.png", results, world)
        print(f"wrote {out / 'report.json'} and {out / 'report.png'}")
    sys.stdout.flush()
    return ExitCode.OK


#: The simulator never talks to NATS: its command takes --config only.
NATS_OPTIONS = False
#: The entry ``equilibrium_node.__main__`` registers (``COMMAND_MODULES``).
COMMAND = ("simulate", "compare pricing algorithms on a simulated market (no NATS needed)", add_arguments, main)

__all__ = ["COMMAND", "add_arguments", "main", "spec_from_args"]

"""Fit the bundled example model of the ``ml`` algorithm (deterministic for a seed).

    python -m plugins.fit_ml_model [--seed 7] [--samples 50000] [--out plugins/models/surge_example_v1.json]

The data are generated, not recorded: a city day with commute peaks on weekdays and night life on
weekends, Poisson supply and demand per cell, and as the "right" answer the market-clearing
multiplier under constant price elasticity -0.6 (``(demand / supply) ** (1 / 0.6)``, within
[1, 4]), 5 % higher in the rush hours, with 5 % log-normal noise. A least-squares fit (numpy) of
the log multiplier on the features of :mod:`plugins.ml` gives the coefficients. The point is a
working, reproducible example of the file format and the fitting path, not a model of any real city.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from equilibrium_node.pricing.protocol import PricingInputs
from plugins.ml import BUNDLED_MODEL, FORMAT, LinearModel, design_matrix

FEATURES = ("bias", "log1p_supply", "log1p_demand", "ratio", "log_excess_ratio", "hour_sin", "hour_cos", "weekend",
            "trend")
ELASTICITY = -0.6


def _rush(hour: np.ndarray, weekday: np.ndarray) -> np.ndarray:
    workday = weekday < 5
    morning = np.exp(-((hour - 8.0) ** 2) / 2.0)
    evening = np.exp(-((hour - 17.5) ** 2) / 2.0)
    night = np.exp(-(((hour + 2.0) % 24 - 1.0) ** 2) / 3.0)  # peaks around 23:00
    return np.where(workday, morning + evening, night)


def generate(seed: int, samples: int) -> tuple[list[PricingInputs], np.ndarray]:
    """Synthetic cells, grouped by (quarter hour, weekday) since those are scalars of the inputs,
    and the log multiplier to learn (same order)."""
    rng = np.random.default_rng(seed)
    hour = rng.integers(0, 96, samples) / 4.0
    weekday = rng.integers(0, 7, samples)
    rush = _rush(hour, weekday)
    supply = rng.poisson(6.0 + 4.0 * rng.random(samples)).astype(np.float64)
    demand = rng.poisson((3.0 + 9.0 * rush) * rng.uniform(0.5, 1.5, samples)).astype(np.float64)
    demand_5m = demand * 5.0 * rng.uniform(0.7, 1.3, samples)
    with np.errstate(divide="ignore", invalid="ignore"):
        clearing = (demand / supply) ** (1.0 / -ELASTICITY)
    truth = np.clip(clearing, 1.0, 4.0) * np.where(rush > 0.5, 1.05, 1.0) * rng.lognormal(0.0, 0.05, samples)
    # the no-supply rule is not learned: every algorithm answers the zone max there
    keep = supply > 0
    hour, weekday, supply, demand, demand_5m, truth = (a[keep] for a in (hour, weekday, supply, demand,
                                                                            demand_5m, truth))
    groups: list[PricingInputs] = []
    targets: list[np.ndarray] = []
    for key in np.unique(hour * 10 + weekday):
        sel = (hour * 10 + weekday) == key
        n = int(sel.sum())
        ones = np.ones(n)
        groups.append(PricingInputs(supply[sel], demand[sel], demand_5m[sel], ones, ones, ones * 4.0, ones, 0.0,
                                    float(hour[sel][0]), int(weekday[sel][0])))
        targets.append(np.log(truth[sel]))
    return groups, np.concatenate(targets)


def fit(seed: int = 7, samples: int = 50_000) -> dict:
    """The model document fitted on generated data."""
    groups, y = generate(seed, samples)
    probe = LinearModel("fit", "log_multiplier", FEATURES, np.zeros(len(FEATURES)), 10.0)
    x = np.vstack([design_matrix(probe, g) for g in groups])
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    rmse = float(np.sqrt(np.mean((x @ coef - y) ** 2)))
    return {
        "format": FORMAT,
        "name": "surge_example_v1",
        "description": "Example: log multiplier regressed on supply, demand, ratio, hour, weekend and trend "
                       "over generated data (see plugins/fit_ml_model.py).",
        "target": "log_multiplier",
        "features": list(FEATURES),
        "coefficients": [round(float(c), 6) for c in coef],
        "ratio_cap": 10.0,
        "trained": {"script": "plugins/fit_ml_model.py", "seed": seed, "samples": samples, "rows_fitted": len(y),
                    "rmse_log": round(rmse, 6), "rmse_pct": round(100 * (math.exp(rmse) - 1), 2)},
    }


def main(argv: list[str] | None = None) -> int:
    """Command line: fit and write the model file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--samples", type=int, default=50_000)
    parser.add_argument("--out", type=Path, default=BUNDLED_MODEL)
    args = parser.parse_args(argv)
    doc = fit(args.seed, args.samples)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {args.out}: {doc['trained']['rows_fitted']} rows, rmse {doc['trained']['rmse_pct']} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())

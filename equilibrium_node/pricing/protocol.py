"""The plugin contract of pricing algorithms: what an algorithm sees and what it returns.

An algorithm is a small class found by name through the registry (entry-point group
``equilibrium.pricing``). It sees plain numpy arrays, one element per cell of one zone and vehicle
type, never NATS, the web app or the clock: ``now`` and the local hour come in the inputs, so the
same code runs on live stream time and on the simulator's simulated time.

Per-cell state (a feedback controller's integrator, say) lives in the engine, not in the plugin:
an algorithm declares ``state_size`` floats per cell, receives the rows of the cells it prices
(``NaN`` for a cell it has never seen) and returns the updated rows. Keeping the state outside
lets one instance serve many zones, lets the engine forget or reset cells, and keeps ``price`` a
pure function.

Writing one::

    class Flat:
        name = "flat"
        state_size = 0
        defaults = {"level": 1.0}

        def __init__(self, params, model=""):
            self.level = check_params(self.name, self.defaults, params)["level"]

        def price(self, inputs, state):
            return PriceResult(np.full(len(inputs.supply), self.level), state)

and declare it in your package's ``pyproject.toml``::

    [project.entry-points."equilibrium.pricing"]
    flat = "my_package.flat:Flat"
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, NamedTuple, Protocol, runtime_checkable

import numpy as np


class PricingInputs(NamedTuple):
    """What an algorithm sees for ``n`` cells (arrays of length ``n``, float64).

    Supply and demand are already smoothed over neighbouring cells. ``served`` is the multiplier
    riders see now (1.0 where nothing is served), which is what observed demand reacted to.
    """

    supply: np.ndarray  # available drivers (smoothed)
    demand: np.ndarray  # weighted distinct riders in the last 60 s (smoothed)
    demand_5m: np.ndarray  # weighted distinct riders in the last 300 s (smoothed)
    served: np.ndarray  # multiplier served now
    min_multiplier: np.ndarray  # zone floor
    max_multiplier: np.ndarray  # zone cap
    dt_s: np.ndarray  # seconds since the cell was last priced (the tick length for a new cell)
    now: float  # evaluation time, epoch seconds (stream or simulated time)
    local_hour: float  # hour of day in the region's time zone, 0 <= h < 24
    weekday: int  # 0 = Monday, in the region's time zone


class PriceResult(NamedTuple):
    """An algorithm's answer: raw multipliers (guardrails come after) and the new state rows."""

    multiplier: np.ndarray
    state: np.ndarray  # shape (n, state_size)


@runtime_checkable
class PricingAlgorithm(Protocol):
    """A pricing algorithm: ``price`` maps inputs (and its per-cell state) to raw multipliers.

    Constructed as ``cls(params, model)``: ``params`` are the zone's numeric parameters
    (``ZoneConfig.params``), ``model`` the zone's model file (``ZoneConfig.model``, for model-based
    algorithms). Invalid parameters raise :class:`ValueError` with a message naming them; the
    live config validator turns that into a rejected config.
    """

    name: ClassVar[str]
    #: floats of per-cell state the engine keeps for this algorithm (0: stateless)
    state_size: ClassVar[int]
    #: accepted parameters and their defaults
    defaults: ClassVar[Mapping[str, float]]

    def price(self, inputs: PricingInputs, state: np.ndarray) -> PriceResult:
        """Raw multipliers for the cells of ``inputs``; ``state`` has shape (n, state_size)."""
        ...


#: Ratios are capped here so that a vanishing supply cannot turn into inf/NaN downstream.
MAX_RATIO = 1e6


def check_params(name: str, defaults: Mapping[str, float], params: Mapping[str, float] | None) -> dict[str, float]:
    """``defaults`` overridden by ``params``; :class:`ValueError` on an unknown or non-finite parameter."""
    merged = dict(defaults)
    for key, value in (params or {}).items():
        if key not in defaults:
            known = ", ".join(sorted(defaults)) or "none"
            raise ValueError(f"unknown parameter {key!r} for algorithm {name!r} (known: {known})")
        value = float(value)
        if not np.isfinite(value):
            raise ValueError(f"parameter {key!r} of algorithm {name!r} must be finite")
        merged[key] = value
    return merged


def ratio(demand: np.ndarray, supply: np.ndarray) -> np.ndarray:
    """demand / supply with 0 where supply is 0 (callers treat no supply separately), at most 1e6."""
    out = np.zeros_like(demand, dtype=np.float64)
    with np.errstate(over="ignore"):
        np.divide(demand, supply, out=out, where=supply > 0)
    return np.minimum(out, MAX_RATIO)


def scarcity_rules(raw: np.ndarray, inputs: PricingInputs) -> np.ndarray:
    """The edge cases every ratio formula shares: demand with no supply gives the zone max,
    no data at all gives 1.0 (never maximum scarcity)."""
    out = np.where((inputs.supply <= 0) & (inputs.demand > 0), inputs.max_multiplier, raw)
    return np.where((inputs.supply <= 0) & (inputs.demand <= 0), 1.0, out)


__all__ = ["PriceResult", "PricingAlgorithm", "PricingInputs", "check_params", "ratio", "scarcity_rules"]

"""``equilibrium``: a feedback controller that steers each cell toward the market-clearing price.

Demand is assumed to follow a constant price elasticity ``e`` (default -0.6): at multiplier ``m``
riders ask for ``D(m) = D0 * m**e``. The demand we observe was asked at the multiplier being served,
so ``D0 = D_obs * served**(-e)``, and the price where expected demand meets supply ``S`` is::

    m* = (D0 / S) ** (1 / -e)        (clamped to the zone's [min, max])

The controller does not jump to ``m*`` (``D_obs`` is noisy and supply reacts to price too): it is a
PI controller in velocity form on the log price ``u = ln m``, with error ``err = ln m* - u``::

    u += min(1, ki * dt) * err + kp * (err - err_prev)

``min(1, ki * dt)`` damps the integral action (a fraction of the gap per tick, never overshooting
through it alone), ``kp`` reacts to a change of the gap. **Anti-windup**: the integrator state is
the output itself and is clamped to ``[ln min, ln max]`` every step, so a long stretch at the cap
accumulates nothing and the price starts down on the first tick the market eases.

Per-cell state (kept by the engine, two floats): ``u`` and ``err_prev``; ``NaN`` for a new cell,
which starts from the served multiplier.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np

from equilibrium_node.pricing.protocol import PriceResult, PricingInputs, check_params


def clearing_price(demand: np.ndarray, supply: np.ndarray, served: np.ndarray, elasticity: float,
                   lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The multiplier where expected demand meets supply, clamped to [lo, hi].

    Demand with no supply gives ``hi``; no data gives 1.0 (clamped); no demand gives ``lo``.
    """
    k = -elasticity
    d0 = demand * np.power(np.maximum(served, 1e-9), k)
    target = np.ones_like(demand, dtype=np.float64)
    both = (supply > 0) & (d0 > 0)
    # in log space: a tiny supply must not overflow before the clamp
    log_target = (np.log(d0[both]) - np.log(supply[both])) / k
    target[both] = np.exp(np.clip(log_target, np.log(lo[both]), np.log(hi[both])))
    target = np.where((supply <= 0) & (demand > 0), hi, target)
    target = np.where((supply > 0) & (demand <= 0), lo, target)
    return np.clip(target, lo, hi)


class EquilibriumPricing:
    """PI controller on log price toward the clearing price (see the module docstring)."""

    name: ClassVar[str] = "equilibrium"
    state_size: ClassVar[int] = 2
    defaults: ClassVar[Mapping[str, float]] = {"elasticity": -0.6, "ki": 0.5, "kp": 0.2}

    def __init__(self, params: Mapping[str, float] | None = None, model: str = "") -> None:
        p = check_params(self.name, self.defaults, params)
        if not -5.0 <= p["elasticity"] < 0:
            raise ValueError("parameter 'elasticity' of algorithm 'equilibrium' must be in [-5, 0)")
        if not 0 < p["ki"] <= 10 or not 0 <= p["kp"] <= 1:
            raise ValueError("parameters of algorithm 'equilibrium' need 0 < ki <= 10 and 0 <= kp <= 1")
        self.elasticity, self.ki, self.kp = p["elasticity"], p["ki"], p["kp"]

    def price(self, inputs: PricingInputs, state: np.ndarray) -> PriceResult:
        """One controller step per cell."""
        lo, hi = inputs.min_multiplier, inputs.max_multiplier
        target = clearing_price(inputs.demand, inputs.supply, inputs.served, self.elasticity, lo, hi)
        u_target = np.log(target)
        u = state[:, 0] if state.shape[0] else np.empty(0)
        u = np.where(np.isfinite(u), u, np.log(np.clip(inputs.served, lo, hi)))
        err = u_target - u
        err_prev = np.where(np.isfinite(state[:, 1]), state[:, 1], err) if state.shape[0] else err
        gain = np.minimum(1.0, self.ki * np.maximum(inputs.dt_s, 0.0))
        u_new = np.clip(u + gain * err + self.kp * (err - err_prev), np.log(lo), np.log(hi))
        new_state = np.column_stack([u_new, err]) if len(u_new) else np.empty((0, 2))
        return PriceResult(np.exp(u_new), new_state)

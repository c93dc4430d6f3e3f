"""``exponential``: exp((r - 1) * factor) above balance, steeper than linear as scarcity grows.

r = demand / supply; r <= 1 gives 1.0; demand with no supply gives the zone max; no data gives
1.0. The exponent is capped so that a huge ratio cannot overflow (the zone cap applies anyway).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np

from equilibrium_node.pricing.protocol import PriceResult, PricingInputs, check_params, ratio, scarcity_rules

_MAX_EXPONENT = 50.0


class ExponentialPricing:
    """multiplier = exp((r - 1) * factor) for r > 1, else 1.0."""

    name: ClassVar[str] = "exponential"
    state_size: ClassVar[int] = 0
    defaults: ClassVar[Mapping[str, float]] = {"factor": 0.4}

    def __init__(self, params: Mapping[str, float] | None = None, model: str = "") -> None:
        self.factor = check_params(self.name, self.defaults, params)["factor"]
        if self.factor < 0:
            raise ValueError("parameter 'factor' of algorithm 'exponential' must be >= 0")

    def price(self, inputs: PricingInputs, state: np.ndarray) -> PriceResult:
        """Raw multipliers from the demand/supply ratio."""
        r = ratio(inputs.demand, inputs.supply)
        exponent = np.minimum((r - 1.0) * self.factor, _MAX_EXPONENT)
        raw = np.where(r > 1.0, np.exp(np.maximum(exponent, 0.0)), 1.0)
        return PriceResult(scarcity_rules(raw, inputs), state)

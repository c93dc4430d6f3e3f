"""``linear``: the classic ratio formula, 1 + (r - 1) * factor above balance.

r = demand / supply; r <= 1 gives 1.0; demand with no supply gives the zone max; no data gives
1.0. Stateless and monotonic in demand.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np

from equilibrium_node.pricing.protocol import PriceResult, PricingInputs, check_params, ratio, scarcity_rules


class LinearPricing:
    """multiplier = 1 + (r - 1) * factor for r > 1, else 1.0."""

    name: ClassVar[str] = "linear"
    state_size: ClassVar[int] = 0
    defaults: ClassVar[Mapping[str, float]] = {"factor": 0.5}

    def __init__(self, params: Mapping[str, float] | None = None, model: str = "") -> None:
        self.factor = check_params(self.name, self.defaults, params)["factor"]
        if self.factor < 0:
            raise ValueError("parameter 'factor' of algorithm 'linear' must be >= 0")

    def price(self, inputs: PricingInputs, state: np.ndarray) -> PriceResult:
        """Raw multipliers from the demand/supply ratio."""
        r = ratio(inputs.demand, inputs.supply)
        raw = np.where(r > 1.0, 1.0 + (r - 1.0) * self.factor, 1.0)
        return PriceResult(scarcity_rules(raw, inputs), state)

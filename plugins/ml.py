"""``ml``: multipliers predicted by a small regression model read from a JSON file.

Model file format (``equilibrium.pricing.linear-model/1``)::

    {
      "format": "equilibrium.pricing.linear-model/1",
      "name": "sf_example_v1",
      "target": "log_multiplier",            # or "multiplier"
      "features": ["bias", "log1p_supply", "ratio", "log_excess_ratio", "hour_sin", ...],
      "coefficients": [0.01, ...],           # one per feature, same order
      "ratio_cap": 10.0,                     # optional, caps the "ratio" feature (default 10)
      "trained": {...}                       # free-form provenance: script, seed, samples, error
    }

The prediction is ``features @ coefficients`` (exponentiated for ``log_multiplier``), floored at 1.0;
demand with no supply gives the zone max and no data gives 1.0, as for every algorithm. Features
(computed from the smoothed inputs and the region's local time):

====================  =====================================================
``bias``              1
``supply``            available drivers
``demand``            weighted riders in the last minute
``log1p_supply``      ln(1 + supply)
``log1p_demand``      ln(1 + demand)
``ratio``             demand / supply, capped at ``ratio_cap`` (0 without supply)
``log_excess_ratio``  ln(ratio) above balance: ln(clip(ratio, 1, ratio_cap))
``hour_sin/cos``      sin / cos of 2*pi*hour/24 (local time)
``weekday``           0 = Monday .. 6
``weekend``           1 on Saturday and Sunday
``trend``             1-minute rate / 5-minute rate - 1, clipped to [-1, 2] (0 without history)
====================  =====================================================

The zone's ``model`` field names the file; empty means the bundled example
``plugins/models/surge_example_v1.json``, fitted by ``plugins/fit_ml_model.py`` (deterministic).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import ClassVar, NamedTuple

import numpy as np

from equilibrium_node.pricing.protocol import PriceResult, PricingInputs, check_params, ratio, scarcity_rules

FORMAT = "equilibrium.pricing.linear-model/1"
BUNDLED_MODEL = Path(__file__).resolve().parent / "models" / "surge_example_v1.json"


def _trend(inputs: PricingInputs) -> np.ndarray:
    rate_5m = inputs.demand_5m / 5.0
    out = np.zeros_like(inputs.demand, dtype=np.float64)
    np.divide(inputs.demand, rate_5m, out=out, where=rate_5m > 0)
    return np.where(rate_5m > 0, np.clip(out - 1.0, -1.0, 2.0), 0.0)


def _hour(inputs: PricingInputs, fn: Callable[[float], float]) -> np.ndarray:
    return np.full(len(inputs.supply), fn(2 * math.pi * inputs.local_hour / 24.0))


#: feature name -> function of (inputs, ratio_cap)
FEATURES: dict[str, Callable[[PricingInputs, float], np.ndarray]] = {
    "bias": lambda i, _c: np.ones(len(i.supply)),
    "supply": lambda i, _c: np.asarray(i.supply, dtype=np.float64),
    "demand": lambda i, _c: np.asarray(i.demand, dtype=np.float64),
    "log1p_supply": lambda i, _c: np.log1p(np.maximum(i.supply, 0.0)),
    "log1p_demand": lambda i, _c: np.log1p(np.maximum(i.demand, 0.0)),
    "ratio": lambda i, c: np.minimum(ratio(i.demand, i.supply), c),
    "log_excess_ratio": lambda i, c: np.log(np.clip(ratio(i.demand, i.supply), 1.0, c)),
    "hour_sin": lambda i, _c: _hour(i, math.sin),
    "hour_cos": lambda i, _c: _hour(i, math.cos),
    "weekday": lambda i, _c: np.full(len(i.supply), float(i.weekday)),
    "weekend": lambda i, _c: np.full(len(i.supply), 1.0 if i.weekday >= 5 else 0.0),
    "trend": lambda i, _c: _trend(i),
}


class LinearModel(NamedTuple):
    """A loaded model file."""

    name: str
    target: str
    features: tuple[str, ...]
    coefficients: np.ndarray
    ratio_cap: float


def parse_model(doc: object, source: str = "model") -> LinearModel:
    """Validate a decoded model document; :class:`ValueError` says what is wrong."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"{source}: not a {FORMAT} document")
    features, coefs = doc.get("features"), doc.get("coefficients")
    if not isinstance(features, list) or not isinstance(coefs, list) or len(features) != len(coefs) or not features:
        raise ValueError(f"{source}: features and coefficients must be lists of the same non-zero length")
    unknown = [f for f in features if f not in FEATURES]
    if unknown:
        raise ValueError(f"{source}: unknown features {unknown} (known: {', '.join(FEATURES)})")
    if not all(isinstance(c, int | float) and math.isfinite(c) for c in coefs):
        raise ValueError(f"{source}: coefficients must be finite numbers")
    target = doc.get("target", "log_multiplier")
    if target not in ("log_multiplier", "multiplier"):
        raise ValueError(f"{source}: target must be log_multiplier or multiplier")
    cap = float(doc.get("ratio_cap", 10.0))
    return LinearModel(str(doc.get("name", Path(source).stem)), target, tuple(features),
                       np.asarray(coefs, dtype=np.float64), cap)


@lru_cache(maxsize=32)
def _load(path: str, mtime: float) -> LinearModel:
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read model file {path}: {exc}") from None
    return parse_model(doc, path)


def load_model(path: str | Path) -> LinearModel:
    """Load (and cache until the file changes) a model file."""
    p = Path(path)
    try:
        mtime = p.stat().st_mtime
    except OSError as exc:
        raise ValueError(f"cannot read model file {p}: {exc.strerror}") from None
    return _load(str(p), mtime)


def design_matrix(model: LinearModel, inputs: PricingInputs) -> np.ndarray:
    """The feature matrix (n, len(features)) of ``inputs``."""
    if not len(inputs.supply):
        return np.empty((0, len(model.features)))
    return np.column_stack([FEATURES[f](inputs, model.ratio_cap) for f in model.features])


class MlPricing:
    """Multipliers predicted by a linear model over market features (see the module docstring)."""

    name: ClassVar[str] = "ml"
    state_size: ClassVar[int] = 0
    defaults: ClassVar[Mapping[str, float]] = {}

    def __init__(self, params: Mapping[str, float] | None = None, model: str = "") -> None:
        check_params(self.name, self.defaults, params)
        try:
            self.model = load_model(model or BUNDLED_MODEL)
        except ValueError as exc:
            message = str(exc)
            raise ValueError(message if "model file" in message else f"bad model file: {message}") from None

    def price(self, inputs: PricingInputs, state: np.ndarray) -> PriceResult:
        """Predicted multipliers."""
        y = design_matrix(self.model, inputs) @ self.model.coefficients
        raw = np.exp(np.minimum(y, 10.0)) if self.model.target == "log_multiplier" else y
        return PriceResult(scarcity_rules(np.maximum(raw, 1.0), inputs), state)

"""The built-in algorithms as pure functions: formulas, edge cases and properties."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from equilibrium_node.pricing.protocol import PricingInputs
from plugins.equilibrium import EquilibriumPricing, clearing_price
from plugins.exponential import ExponentialPricing
from plugins.fit_ml_model import fit
from plugins.linear import LinearPricing
from plugins.ml import BUNDLED_MODEL, MlPricing, parse_model

counts = st.floats(min_value=0, max_value=500, allow_nan=False)


def inputs(supply, demand, *, served=None, lo=1.0, hi=3.0, dt_s=1.0, demand_5m=None, hour=12.0, weekday=2):
    s = np.atleast_1d(np.asarray(supply, dtype=float))
    d = np.atleast_1d(np.asarray(demand, dtype=float))
    n = len(s)
    return PricingInputs(s, d, d * 5 if demand_5m is None else np.atleast_1d(demand_5m),
                         np.ones(n) if served is None else np.atleast_1d(np.asarray(served, dtype=float)),
                         np.full(n, lo), np.full(n, hi), np.full(n, dt_s), 0.0, hour, weekday)


def price(algorithm, inp, state=None):
    if state is None:
        state = np.full((len(inp.supply), algorithm.state_size), np.nan)
    return algorithm.price(inp, state)


def test_linear_formula_and_edges():
    lin = LinearPricing({"factor": 0.5})
    out = price(lin, inputs([10, 10, 10, 0, 0, 4], [5, 10, 30, 3, 0, 8])).multiplier
    # r <= 1 gives 1.0; r = 3 gives 1 + 2 * 0.5; no supply with demand gives the zone max; no data gives 1.0
    assert out.tolist() == [1.0, 1.0, 2.0, 3.0, 1.0, 1.5]


def test_exponential_formula_and_edges():
    exp = ExponentialPricing({"factor": 0.4})
    out = price(exp, inputs([10, 10, 0, 0], [10, 30, 3, 0], hi=4.0)).multiplier
    assert out[0] == 1.0
    assert out[1] == pytest.approx(math.exp(2 * 0.4))
    assert out[2:].tolist() == [4.0, 1.0]
    huge = price(exp, inputs([1], [1e9])).multiplier  # no overflow
    assert np.isfinite(huge).all()


def test_unknown_or_bad_parameters_are_refused():
    with pytest.raises(ValueError, match=r"unknown parameter 'facter'.*known: factor"):
        LinearPricing({"facter": 1.0})
    with pytest.raises(ValueError, match=">= 0"):
        ExponentialPricing({"factor": -1.0})
    with pytest.raises(ValueError, match="elasticity"):
        EquilibriumPricing({"elasticity": 0.5})


@settings(max_examples=200, deadline=None)
@given(supply=counts, d1=counts, d2=counts, factor=st.floats(min_value=0, max_value=3))
def test_static_algorithms_are_monotonic_in_demand(supply, d1, d2, factor):
    lo_d, hi_d = sorted((d1, d2))
    for algorithm in (LinearPricing({"factor": factor}), ExponentialPricing({"factor": factor})):
        a, b = price(algorithm, inputs([supply, supply], [lo_d, hi_d], hi=5.0)).multiplier
        assert b >= a - 1e-12
        assert a >= 1.0


@settings(max_examples=100, deadline=None)
@given(supply=st.lists(counts, min_size=1, max_size=20), seed=st.integers(0, 2**16))
def test_equilibrium_output_always_within_zone_range(supply, seed):
    rng = np.random.default_rng(seed)
    n = len(supply)
    demand = rng.uniform(0, 300, n)
    served = rng.uniform(1, 4, n)
    algorithm = EquilibriumPricing()
    state = np.column_stack([rng.normal(0, 3, n), rng.normal(0, 3, n)])  # any state, even wound up
    out = algorithm.price(inputs(supply, demand, served=served, lo=1.2, hi=2.5), state).multiplier
    assert ((out >= 1.2 - 1e-9) & (out <= 2.5 + 1e-9)).all()


def test_clearing_price_meets_supply_under_the_elasticity():
    # D(m) = D0 * m**-0.6 with D0 observed at 1.0: 20 riders for 10 drivers clear at 2**(1/0.6)
    m = clearing_price(np.array([20.0]), np.array([10.0]), np.array([1.0]), -0.6, np.array([1.0]), np.array([9.0]))
    assert m[0] == pytest.approx(2 ** (1 / 0.6))
    assert 20.0 * m[0] ** -0.6 == pytest.approx(10.0)
    # the same demand observed while 2.0 was served means more latent demand: a higher clearing price
    m2 = clearing_price(np.array([20.0]), np.array([10.0]), np.array([2.0]), -0.6, np.array([1.0]), np.array([9.0]))
    assert m2[0] > m[0]


def test_equilibrium_converges_damped_toward_the_clearing_price():
    algorithm = EquilibriumPricing({"ki": 0.3, "kp": 0.1})
    target = 2 ** (1 / 0.6)
    state = np.full((1, 2), np.nan)
    values = []
    for _ in range(60):
        # demand reacts to the price served (the controller's own output): D = D0 * m**-0.6, D0 = 20
        served = values[-1] if values else 1.0
        result = algorithm.price(inputs([10.0], [20.0 * served ** -0.6], served=[served], hi=5.0), state)
        state = result.state
        values.append(float(result.multiplier[0]))
    assert values[0] < target  # damped: no jump to the answer
    assert values[-1] == pytest.approx(target, rel=1e-3)
    assert max(values) <= target * 1.05  # no large overshoot


def test_equilibrium_anti_windup_moves_down_on_the_first_eased_tick():
    algorithm = EquilibriumPricing()
    state = np.full((1, 2), np.nan)
    for _ in range(200):  # far more demand than the cap allows, for a long time
        result = algorithm.price(inputs([1.0], [500.0], served=[3.0], hi=3.0), state)
        state = result.state
    assert result.multiplier[0] == pytest.approx(3.0)
    assert state[0, 0] == pytest.approx(math.log(3.0))  # the integrator sits at the cap, not beyond
    eased = algorithm.price(inputs([10.0], [5.0], served=[3.0], hi=3.0), state)
    assert eased.multiplier[0] < 3.0 - 0.3


def test_equilibrium_state_is_per_cell_and_outside_the_plugin():
    algorithm = EquilibriumPricing()
    inp = inputs([10.0, 10.0], [40.0, 5.0], hi=5.0)
    a = algorithm.price(inp, np.full((2, 2), np.nan))
    b = algorithm.price(inp, np.full((2, 2), np.nan))
    assert np.array_equal(a.multiplier, b.multiplier)  # nothing remembered inside the instance
    assert a.state.shape == (2, 2) and a.multiplier[0] > a.multiplier[1]


def test_ml_bundled_model_predicts_within_sense():
    algorithm = MlPricing()
    out = price(algorithm, inputs([10, 10, 10, 0, 0], [5, 20, 60, 4, 0], hi=4.0)).multiplier
    assert out[0] == pytest.approx(1.0, abs=0.15)
    assert 1.0 <= out[1] < out[2]
    assert out[3] == 4.0 and out[4] == 1.0  # shared edge rules
    assert (out >= 1.0).all()


def test_ml_bundled_model_is_what_the_fitting_script_produces():
    bundled = json.loads(BUNDLED_MODEL.read_text())
    again = fit(seed=bundled["trained"]["seed"], samples=bundled["trained"]["samples"])
    assert again["features"] == bundled["features"]
    assert np.allclose(again["coefficients"], bundled["coefficients"], atol=1e-4)


def test_ml_model_file_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="cannot read model file"):
        MlPricing(model=str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "equilibrium.pricing.linear-model/1", "features": ["bias", "moon"],
                               "coefficients": [1, 2]}))
    with pytest.raises(ValueError, match=r"bad model file.*unknown features"):
        MlPricing(model=str(bad))
    with pytest.raises(ValueError, match="same non-zero length"):
        parse_model({"format": "equilibrium.pricing.linear-model/1", "features": ["bias"], "coefficients": []})

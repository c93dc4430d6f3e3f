"""Prices in the simulation come from the node's pricing core and its degraded-mode rules."""

from __future__ import annotations

import numpy as np
import pytest

from equilibrium_node.errors import ConfigError
from equilibrium_node.pricing.registry import AlgorithmRegistry
from equilibrium_node.sim.city import City
from equilibrium_node.sim.market import SimMarket
from equilibrium_node.sim.pricing import CorePricer, NoSurge, check_algorithms, make_pricer, sim_config

T0 = 1_790_000_000.0


@pytest.fixture(scope="module")
def city():
    from equilibrium_node.__main__ import BUNDLED_CONFIG
    from equilibrium_node.settings import load_settings

    return City(load_settings(BUNDLED_CONFIG, env={}), 3.0)


def test_every_zone_and_the_rest_of_the_city_price_with_the_compared_algorithm(sf_settings, city):
    registry = AlgorithmRegistry()
    config = sim_config(sf_settings, "equilibrium", city, registry)
    assert {z.algorithm for z in config.zones.values()} == {"equilibrium"}
    assert all(z.params == {} for z in config.zones.values())  # linear/exponential factors do not carry over
    linear = sim_config(sf_settings, "linear", city, registry)
    assert linear.zones["financial_district"].params == {"factor": 0.6}  # a zone's own parameters stay
    assert linear.zones["oracle_park_chase_center"].max_multiplier == 4.0  # and its limits
    outside = [t for t, z in zip(city.tokens, city.zone_ids, strict=True) if z == "sf_default"]
    assert outside and {config.zone_index.zone_of_cell(t) for t in outside} == {"sf_sim_rest"}
    assert config.vehicle_types == (next(iter(sf_settings.fares)),)
    assert config.rules == sf_settings.rules


def test_unknown_algorithm_names_the_choices():
    registry = AlgorithmRegistry()
    check_algorithms(["none", "linear", "ml"], registry)
    with pytest.raises(ConfigError) as err:
        check_algorithms(["none", "lineer"], registry)
    assert "unknown pricing algorithm 'lineer'" in err.value.message and "did you mean 'linear'" in err.value.message
    assert "'none'" in err.value.message and err.value.field == "algorithms"


def test_riders_see_what_the_core_publishes_then_the_fallback(sf_settings, city):
    pricer = make_pricer("linear", sf_settings, city, 5.0, AlgorithmRegistry())
    assert isinstance(pricer, CorePricer)
    market = SimMarket(city.tokens, 5.0)
    hot = city.index[city.tokens[int(np.argmax(city.weight))]]
    demand = np.zeros(len(city))
    demand[hot] = 30.0
    idle = np.repeat(np.arange(len(city)), 2)  # two idle drivers everywhere
    seen = []
    for k in range(24):  # two minutes of 5 s ticks
        now = T0 + 5 * k
        market.update(now, idle, np.zeros(0, dtype=np.int64), demand if k % 12 == 0 else np.zeros(len(city)))
        pricer.tick(market, now)
        seen.append(pricer.served(now)[hot])
    assert seen[0] == 1.0 and max(seen) > 1.5 and (np.diff(seen) >= -1e-9).all()  # rises, rate-limited
    assert np.diff(seen).max() <= 1.5 * 5 / 60 + 0.1 + 1e-9  # at most max_change_per_min per tick (+ rounding)
    last = T0 + 5 * 23
    assert pricer.served(last)[hot] == pytest.approx(pricer.known[hot])
    # pricing stops: the last value while younger than fallback_after_s (120 s), then 1.0
    assert pricer.served(last + 60)[hot] == pytest.approx(seen[-1])
    assert pricer.served(last + sf_settings.pricing.fallback_after_s + 1).tolist() == [1.0] * len(city)
    # a cell never priced is served 1.0
    assert pricer.served(last)[np.isnan(pricer.known)].tolist() == [1.0] * int(np.isnan(pricer.known).sum())


def test_no_surge_is_one_everywhere(sf_settings, city):
    pricer = make_pricer("none", sf_settings, city, 5.0, AlgorithmRegistry())
    assert isinstance(pricer, NoSurge)
    pricer.tick(SimMarket(city.tokens, 5.0), T0)
    assert pricer.served(T0).tolist() == [1.0] * len(city)

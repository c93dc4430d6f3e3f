"""MarketState answers the MarketView protocol exactly (names and signatures) that pricing and the APIs code against."""

from __future__ import annotations

import inspect

from equilibrium_node.faults import Faults
from equilibrium_node.market.state import MarketState
from equilibrium_node.market.view import MarketView


def test_market_state_implements_market_view():
    members = [name for name in dir(MarketView) if not name.startswith("_")]
    assert set(members) >= {"applied_seq", "now", "cell_stats", "cell_arrays", "active_cells", "changed_since",
                            "driver"}
    for name in members:
        want = getattr(MarketView, name)
        have = getattr(MarketState, name)
        if isinstance(want, property):
            assert isinstance(have, property), name
            continue
        want_sig, have_sig = inspect.signature(want), inspect.signature(have)
        assert list(want_sig.parameters) == list(have_sig.parameters), name
        for param in want_sig.parameters.values():
            assert have_sig.parameters[param.name].default == param.default, (name, param.name)


def test_fault_spec_parsing_and_counting():
    faults = Faults("batch:3, checkpoint_chunk:2")
    assert faults.targets == {"batch": 3, "checkpoint_chunk": 2}
    faults.hit("batch")
    faults.hit("batch")
    faults.hit("dlq")  # not a target: counted, harmless
    assert faults.hits == {"batch": 2, "dlq": 1}
    assert Faults("").targets == {} and Faults("batch").targets == {"batch": 1}

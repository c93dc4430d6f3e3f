"""The algorithm registry: built-ins through entry points, third parties the same way, clear errors."""

from __future__ import annotations

import sys
import textwrap

import msgspec
import pytest

from equilibrium_node.errors import ApiError, ConfigError
from equilibrium_node.live_config import ConfigStore
from equilibrium_node.pricing.registry import ENTRY_POINT_GROUP, AlgorithmRegistry, UnknownAlgorithmError


def test_builtins_are_found_through_the_entry_point_group():
    from importlib.metadata import entry_points

    declared = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
    assert declared["linear"] == "plugins.linear:LinearPricing"
    assert {"linear", "exponential", "equilibrium", "ml"} <= set(declared)
    registry = AlgorithmRegistry(classes={})  # entry points only, no built-in table
    assert {"linear", "exponential", "equilibrium", "ml"} <= set(registry.names())
    assert registry.get("exponential").__name__ == "ExponentialPricing"


def test_third_party_plugin_is_loaded_from_its_entry_point(tmp_path, monkeypatch):
    pkg = tmp_path / "flatprice"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(textwrap.dedent('''
        import numpy as np
        from equilibrium_node.pricing.protocol import PriceResult, check_params

        class Flat:
            name = "flat"
            state_size = 0
            defaults = {"level": 1.0}

            def __init__(self, params, model=""):
                self.level = check_params(self.name, self.defaults, params)["level"]

            def price(self, inputs, state):
                return PriceResult(np.full(len(inputs.supply), self.level), state)
    '''))
    dist = tmp_path / "flatprice-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: flatprice\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nflat = flatprice:Flat\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = AlgorithmRegistry()
    assert "flat" in registry.names()
    algorithm = registry.create("flat", {"level": 1.7})
    assert algorithm.level == 1.7
    sys.modules.pop("flatprice", None)


def test_unknown_name_lists_the_choices_and_the_closest():
    registry = AlgorithmRegistry()
    with pytest.raises(UnknownAlgorithmError) as info:
        registry.get("exponentail")
    message = str(info.value)
    assert "unknown pricing algorithm 'exponentail'" in message
    assert "available: equilibrium, exponential, linear, ml" in message
    assert "did you mean 'exponential'" in message


def test_broken_plugin_is_reported_not_fatal(monkeypatch):
    registry = AlgorithmRegistry()
    registry._targets["broken"] = "no_such_module_xyz:Thing"
    with pytest.raises(UnknownAlgorithmError, match="failed to load: ModuleNotFoundError"):
        registry.get("broken")
    assert "linear" in registry.names()


def test_start_up_check_names_the_field(sf_settings):
    registry = AlgorithmRegistry()
    registry.check_settings(sf_settings)  # the bundled config is fine
    zones = list(sf_settings.zones)
    zones[2] = msgspec.structs.replace(zones[2], algorithm="lineer")
    bad = msgspec.structs.replace(sf_settings, zones=zones)
    with pytest.raises(ConfigError) as info:
        registry.check_settings(bad)
    assert info.value.field == "zones[2].algorithm"
    assert "available: equilibrium, exponential, linear, ml" in str(info.value)
    rules = msgspec.structs.replace(sf_settings.rules, shadow_algorithms=["equilibrium", "nope"])
    with pytest.raises(ConfigError, match=r"rules\.shadow_algorithms"):
        registry.check_settings(msgspec.structs.replace(sf_settings, rules=rules))


def test_live_config_validator_rejects_unknown_algorithm_and_bad_params(sf_settings):
    store = ConfigStore(sf_settings.region, sf_settings.cell_level, sf_settings)
    AlgorithmRegistry().install(store)
    zone = sf_settings.zones[0]
    enc = msgspec.json.encode
    with pytest.raises(ApiError) as info:
        store.validate(f"zone.{zone.id}", enc(msgspec.structs.replace(zone, algorithm="surge9000")))
    assert info.value.field == "algorithm" and "available:" in info.value.message
    with pytest.raises(ApiError) as info:
        store.validate(f"zone.{zone.id}", enc(msgspec.structs.replace(zone, params={"factr": 1.0})))
    assert info.value.field == "params" and "unknown parameter 'factr'" in info.value.message
    with pytest.raises(ApiError) as info:
        store.validate(f"zone.{zone.id}",
                       enc(msgspec.structs.replace(zone, algorithm="ml", params={}, model="/nope.json")))
    assert info.value.field == "model"
    with pytest.raises(ApiError) as info:
        store.validate("rules", enc(msgspec.structs.replace(sf_settings.rules, shadow_algorithms=["x"])))
    assert info.value.field == "shadow_algorithms"
    # applying a rejected document keeps the old config
    before = store.current
    assert not store.apply(f"zone.{zone.id}", enc(msgspec.structs.replace(zone, algorithm="surge9000")))
    assert store.current is before
    assert store.apply(f"zone.{zone.id}", enc(msgspec.structs.replace(zone, algorithm="equilibrium", params={})))
    assert store.current.zones[zone.id].algorithm == "equilibrium"


def test_instances_are_cached_per_configuration():
    registry = AlgorithmRegistry()
    assert registry.create("linear", {"factor": 0.3}) is registry.create("linear", {"factor": 0.3})
    assert registry.create("linear", {"factor": 0.3}) is not registry.create("linear", {"factor": 0.4})

"""Config loading: file, then EQ_* environment, then options; errors name the field and the source."""

from __future__ import annotations

from pathlib import Path

import pytest

from equilibrium_node.__main__ import BUNDLED_CONFIG
from equilibrium_node.errors import ConfigError
from equilibrium_node.settings import env_names, load_settings
from equilibrium_node.settings.reference import BEGIN, END, reference_markdown

ROOT = Path(__file__).resolve().parents[3]


def test_bundled_config_loads_with_zones_and_fares():
    s = load_settings(BUNDLED_CONFIG, env={})
    assert s.region == "sf" and s.currency == "USD" and s.timezone == "America/Los_Angeles"
    assert len(s.zones) >= 10
    assert {"standard", "xl", "premium"} <= set(s.fares)
    names = {z.name for z in s.zones}
    assert any("Financial District" in n for n in names) and "SFO Airport" in names


def test_environment_overrides_file_and_options_override_environment():
    env = {"EQ_MARKET_SUPPLY_TTL_S": "45", "EQ_NATS_URL": "nats://a:4222,nats://b:4222", "EQ_HTTP": "0.0.0.0:9000"}
    s = load_settings(BUNDLED_CONFIG, env=env, options={"http": "127.0.0.1:7000"})
    assert s.market.supply_ttl_s == 45.0
    assert s.nats.url == "nats://a:4222,nats://b:4222"
    assert s.http == "127.0.0.1:7000"


def test_contract_variables_exist():
    names = env_names()
    for var in ("EQ_NATS_URL", "EQ_NATS_REPLICAS", "EQ_REGION", "EQ_NODE_ID", "EQ_HTTP", "EQ_QUOTE_SECRET",
                "EQ_ADMIN_TOKEN", "EQ_SNAPSHOT_INTERVAL_S"):
        assert var in names, var


def test_environment_names_are_unique():
    leaves = list(env_names())
    assert len(leaves) == len(set(leaves))


def test_bad_environment_value_names_variable_and_field():
    with pytest.raises(ConfigError) as info:
        load_settings(BUNDLED_CONFIG, env={"EQ_MARKET_SUPPLY_TTL_S": "soon"})
    err = info.value
    assert err.field == "market.supply_ttl_s"
    assert err.source == "environment EQ_MARKET_SUPPLY_TTL_S"
    assert "EQ_MARKET_SUPPLY_TTL_S" in str(err)


def test_out_of_range_environment_value():
    with pytest.raises(ConfigError) as info:
        load_settings(BUNDLED_CONFIG, env={"EQ_NATS_REPLICAS": "2"})
    assert info.value.field == "nats.replicas"


def test_bad_file_value_names_file_and_field(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(BUNDLED_CONFIG.read_text().replace("supply_ttl_s = 60", "supply_ttl_s = -5"))
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert info.value.field == "market.supply_ttl_s"
    assert info.value.source == f"file {path}"


def test_unknown_field_in_file_is_an_error(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(BUNDLED_CONFIG.read_text().replace("[market]\n", "[market]\nsupply_tll_s = 3\n"))
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert "supply_tll_s" in str(info.value)


def test_unknown_variable_suggests_the_closest():
    with pytest.raises(ConfigError) as info:
        load_settings(BUNDLED_CONFIG, env={"EQ_MARKET_SUPLY_TTL_S": "5"})
    assert "EQ_MARKET_SUPPLY_TTL_S" in str(info.value)


def test_toml_syntax_error_is_a_config_error(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("region = 'sf\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert info.value.source == f"file {path}"


def test_cross_field_checks():
    with pytest.raises(ConfigError, match="host:port"):
        load_settings(BUNDLED_CONFIG, env={"EQ_HTTP": "localhost"})
    with pytest.raises(ConfigError, match="time zone"):
        load_settings(BUNDLED_CONFIG, env={"EQ_TIMEZONE": "Mars/Olympus"})
    with pytest.raises(ConfigError) as info:
        load_settings(BUNDLED_CONFIG, env={"EQ_PRICING_FALLBACK_AFTER_S": "1"})
    assert info.value.field == "pricing.fallback_after_s"
    with pytest.raises(ConfigError) as info:  # heartbeats expire with the lease TTL: they must beat faster
        load_settings(BUNDLED_CONFIG, env={"EQ_CLUSTER_LEASE_TTL_S": "2", "EQ_CLUSTER_HEARTBEAT_S": "2"})
    assert info.value.field == "cluster.heartbeat_s"


def test_every_region_config_loads():
    for path in sorted(BUNDLED_CONFIG.parent.glob("*.toml")):
        settings = load_settings(path, env={})
        assert settings.region == path.stem and settings.zones and settings.fares


def test_json_environment_for_lists():
    s = load_settings(BUNDLED_CONFIG, env={"EQ_PUSH_APP_TOKENS": '["a", "b"]'})
    assert s.push.app_tokens == ["a", "b"]
    with pytest.raises(ConfigError) as info:
        load_settings(BUNDLED_CONFIG, env={"EQ_PUSH_APP_TOKENS": "[1"})
    assert info.value.source == "environment EQ_PUSH_APP_TOKENS"


def test_invalid_zone_geometry_is_named(tmp_path):
    path = tmp_path / "zones.toml"
    original = "[-122.4040, 37.7880], [-122.3900, 37.7880]"
    text = BUNDLED_CONFIG.read_text().replace(original, "[-222.4, 37.78], [-122.39, 37.788]", 1)
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert info.value.field == "zones[0].geometry"


def test_settings_are_frozen():
    s = load_settings(BUNDLED_CONFIG, env={})
    with pytest.raises(AttributeError):
        s.region = "ny"  # type: ignore[misc]


def test_readme_configuration_reference_is_current():
    readme = (ROOT / "README.md").read_text()
    assert BEGIN in readme and END in readme, "README lacks the generated configuration reference"
    embedded = readme.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert embedded == reference_markdown().strip(), (
        "README configuration reference is stale: run `equilibrium-node config --reference` and paste it")

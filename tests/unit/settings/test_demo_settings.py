"""What ``equilibrium-node demo`` changes in the settings: no secrets needed, a small stream, a quiet console."""

from __future__ import annotations

import msgspec

from equilibrium_node.__main__ import DEMO_QUOTE_SECRET, _demo_settings


def test_demo_fills_in_secrets_and_keeps_the_console_quiet(sf_settings):
    demo = _demo_settings(sf_settings, env={})
    assert demo.quote.secret == DEMO_QUOTE_SECRET
    assert len(demo.admin.token) >= 16 and demo.admin.token != _demo_settings(sf_settings, env={}).admin.token
    assert demo.streams.location_max_bytes == sf_settings.demo.location_max_bytes == 512 * 1024**2
    assert demo.log_level == "warning"


def test_demo_keeps_what_the_user_set(sf_settings):
    mine = msgspec.structs.replace(
        sf_settings, quote=msgspec.structs.replace(sf_settings.quote, secret="s3cret"),
        admin=msgspec.structs.replace(sf_settings.admin, token="my-token"), log_level="debug")
    demo = _demo_settings(mine, env={})
    assert (demo.quote.secret, demo.admin.token, demo.log_level) == ("s3cret", "my-token", "debug")
    assert _demo_settings(sf_settings, env={"EQ_LOG_LEVEL": "info"}).log_level == "info"

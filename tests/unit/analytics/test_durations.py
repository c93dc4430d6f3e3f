"""Durations and instants as typed by people."""

from __future__ import annotations

import pytest

from equilibrium_node.analytics.durations import format_duration, parse_duration, parse_instant, rfc3339_s


def test_durations():
    assert parse_duration("30d") == 30 * 86_400
    assert parse_duration("12h") == 43_200
    assert parse_duration("15m") == 900
    for bad in ("", "30", "d", "0d", "-1d", "1.5d", "30 days", "1w", "9999999d"):
        with pytest.raises(ValueError):
            parse_duration(bad)
    with pytest.raises(ValueError, match="between"):
        parse_duration("400d")
    assert [format_duration(s) for s in (86_400 * 30, 3600 * 5, 900, 7)] == ["30d", "5h", "15m", "7s"]


def test_instants():
    assert parse_instant("1767225600") == 1_767_225_600.0
    assert parse_instant("2026-01-01T00:00:00Z") == 1_767_225_600.0
    assert parse_instant("2026-01-01T01:00:00+01:00") == 1_767_225_600.0
    for bad in ("yesterday", "2026-01-01T00:00:00", "nan", "inf", "-5"):
        with pytest.raises(ValueError):
            parse_instant(bad)
    assert rfc3339_s(1_767_225_600.4) == "2026-01-01T00:00:00Z"

"""Figures from a run's record: completion, ETA, spend, volatility, the table and report.json."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from equilibrium_node.sim import report
from equilibrium_node.sim.record import Recorder


def recorder() -> Recorder:
    rec = Recorder(steps=4, cells=3)
    event = np.array([False, True, True, False])
    ids = rec.request(10.0, event, np.ones(4, dtype=bool), np.array([1.0, 2.0, 2.0, 1.0]))
    rec.matched(ids[:2], np.array([0.0, 60.0]), np.array([120.0, 300.0]), np.array([1000, 2550]))
    rec.abandoned(ids[2:3])  # ids[3] is still waiting when the run ends: no outcome
    rec.matched(np.array([-1]), np.zeros(1), np.zeros(1), np.zeros(1, dtype=np.int64))  # warm-up rows are ignored
    return rec


def test_request_figures():
    f = report.request_figures(recorder())
    assert f["requests"] == 3 and f["completed"] == 2 and f["unfulfilled"] == 1
    assert f["completion_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert f["mean_eta_min"] == 3.5 and f["p90_eta_min"] == pytest.approx(4.7)
    assert f["mean_wait_min"] == 4.0  # (0 + 2) + (1 + 5) over two
    assert f["rider_spend"] == 35.5
    ev = report.request_figures(recorder(), recorder().requests["event"])
    assert ev["requests"] == 2 and ev["completion_rate"] == 0.5
    none = report.request_figures(Recorder(1, 1))
    assert none["requests"] == 0 and none["completion_rate"] is None and none["mean_eta_min"] is None


def test_volatility_is_the_rider_weighted_mean_minute_change():
    rec = Recorder(steps=1, cells=2)
    rec.minute_served = [np.array([1.0, 1.0]), np.array([2.0, 1.0]), np.array([1.0, 1.0])]
    rec.cell_intents = np.array([3.0, 1.0])
    assert report.volatility(rec) == pytest.approx((3 * 1.0 + 1 * 0.0) / 4)
    rec.minute_served = rec.minute_served[:1]
    assert report.volatility(rec) == 0.0


def test_table_and_json(tmp_path):
    figures = {"completion_rate": 0.95, "unfulfilled": 12, "mean_eta_min": 2.5, "p90_eta_min": 4.0,
               "utilisation": 0.6, "earnings_per_hour": 33.0, "rider_spend": 12345.6, "mean_multiplier": 1.2,
               "multiplier_volatility": 0.05,
               "event": {"requests": 100, "completion_rate": 0.9, "unfulfilled": 10, "mean_eta_min": 3.0,
                         "p90_eta_min": 5.0, "mean_multiplier": 2.0, "window_min": [40.0, 60.0]}}
    summaries = {"none": {**figures, "mean_eta_min": None}, "linear": figures}
    text = report.table(summaries, event=True)
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["algorithm", "completion", "unfulfilled"]
    assert lines[1].split()[:4] == ["none", "95.0%", "12", "-"] and lines[2].startswith("linear")
    assert "event window (minutes 40-60):" in text and "12,346" in text
    report.write_json(tmp_path / "report.json", summaries)
    raw = (tmp_path / "report.json").read_bytes()
    doc = orjson.loads(raw)
    assert list(doc) == ["none", "linear"]  # the order run, not alphabetical
    assert list(doc["linear"]) == sorted(doc["linear"]) and doc["linear"]["event"]["requests"] == 100

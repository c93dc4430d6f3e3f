"""``equilibrium-node simulate`` as a user runs it: the table, report.json, report.png, progress, errors,
and the same report for the same seed in two separate processes (different string hash seeds)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

ARGS = ["--scenario", "concert", "--algorithms", "none,linear", "--minutes", "20", "--warmup-min", "5",
        "--scale", "0.2", "--seed", "3"]
KEYS = {"completion_rate", "mean_eta_min", "p90_eta_min", "unfulfilled", "utilisation", "earnings_per_hour",
        "mean_multiplier", "multiplier_volatility", "rider_spend", "requests", "completed", "event"}


def run(args: list[str], hash_seed: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EQ_")}
    env.update({"PYTHONHASHSEED": hash_seed, "EQ_LOG_FORMAT": "json"})
    return subprocess.run([sys.executable, "-m", "equilibrium_node", "simulate", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=100)


def test_two_runs_give_the_same_report(tmp_path):
    first = run([*ARGS, "--out", str(tmp_path / "a")], "1", tmp_path)
    second = run([*ARGS, "--out", str(tmp_path / "b")], "2", tmp_path)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    a, b = (tmp_path / "a" / "report.json").read_bytes(), (tmp_path / "b" / "report.json").read_bytes()
    assert a == b
    doc = orjson.loads(a)
    assert list(doc) == ["none", "linear"]
    for figures in doc.values():
        assert set(figures) >= KEYS
        assert 0 <= figures["completion_rate"] <= 1 and figures["requests"] > 0
        assert figures["mean_eta_min"] <= figures["p90_eta_min"]
    assert doc["none"]["mean_multiplier"] == 1.0
    png = (tmp_path / "a" / "report.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    # stdout: the description and the table; stderr (not a terminal): plain progress lines
    out = first.stdout
    assert "scenario concert" in out and "event window" in out and "wrote" in out
    rows = [ln.split() for ln in out.splitlines() if ln.startswith(("none ", "linear "))]
    assert len(rows) == 4  # overall and event window, per algorithm
    progress = [ln for ln in first.stderr.splitlines() if ln.startswith("simulate ")]
    assert progress and progress[-2].startswith("simulate 90% (") and progress[-2].endswith(" min")
    assert "linear" in progress[-2] and progress[-1].startswith("simulate done: ") and "\r" not in first.stderr


def test_another_seed_gives_another_report(tmp_path):
    args = [a if a != "3" else "4" for a in ARGS]
    result = run([*args, "--out", str(tmp_path / "c"), "--quiet"], "1", tmp_path)
    assert result.returncode == 0, result.stderr
    assert not [ln for ln in result.stderr.splitlines() if ln.startswith("simulate ")]  # --quiet
    run([*ARGS, "--out", str(tmp_path / "d"), "--quiet"], "1", tmp_path)
    assert (tmp_path / "c" / "report.json").read_bytes() != (tmp_path / "d" / "report.json").read_bytes()


def test_bad_options_exit_2_with_one_line(tmp_path):
    for args, words in ((["--algorithms", "none,lineer"], ["unknown pricing algorithm 'lineer'", "'linear'"]),
                        (["--scenario", "concrt"], ["unknown scenario 'concrt'", "did you mean 'concert'"]),
                        (["--step-s", "7"], ["step must divide 60"]),
                        (["--elasticity", "0.4"], ["simulate", "elasticity"])):
        result = run(args, "0", tmp_path)
        assert result.returncode == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr
        lines = [ln for ln in result.stderr.splitlines() if ln.startswith("equilibrium-node:")]
        assert len(lines) == 1 and all(w in lines[0] for w in words), (args, result.stderr)

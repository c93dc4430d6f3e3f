"""An unknown pricing algorithm stops the node at start-up: one line naming the field and the choices, exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.nodeproc import node_env
from tests.support.ports import free_port

BUNDLED = Path(__file__).resolve().parents[2] / "config" / "sf.toml"


def test_unknown_algorithm_in_the_config_file_exits_2(tmp_path):
    cfg = tmp_path / "typo.toml"
    cfg.write_text(BUNDLED.read_text().replace('algorithm = "exponential"', 'algorithm = "exponentail"', 1))
    result = subprocess.run([sys.executable, "-m", "equilibrium_node", "run", "--config", str(cfg)],
                            env=node_env(tmp_path / "data", free_port()), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("equilibrium-node:")]
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert "zones[1].algorithm" in line and "unknown pricing algorithm 'exponentail'" in line
    assert "available: equilibrium, exponential, linear, ml" in line and "did you mean 'exponential'" in line
    assert not (tmp_path / "data" / "nats-server.pid").exists()  # stopped before starting NATS


def test_unknown_shadow_algorithm_from_the_environment_exits_2(tmp_path):
    env = node_env(tmp_path / "data", free_port(), EQ_RULES_SHADOW_ALGORITHMS='["linear", "oracle"]')
    result = subprocess.run([sys.executable, "-m", "equilibrium_node", "run"], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert "rules.shadow_algorithms" in result.stderr and "'oracle'" in result.stderr

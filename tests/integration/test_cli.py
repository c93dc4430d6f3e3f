"""The command line as a user meets it: one-line errors and exit 2, no tracebacks."""

from __future__ import annotations

import socket
import subprocess
import sys

from tests.support.nodeproc import node_env
from tests.support.ports import free_port


def _run(args: list[str], env: dict[str, str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "equilibrium_node", *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("equilibrium-node:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_bad_env_value_exits_2_naming_variable(tmp_path):
    env = node_env(tmp_path, free_port(), EQ_MARKET_SUPPLY_TTL_S="-1")
    result = _run(["run"], env)
    assert result.returncode == 2
    line = _one_line(result)
    assert "EQ_MARKET_SUPPLY_TTL_S" in line and "market.supply_ttl_s" in line


def test_bad_file_exits_2_naming_file(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text('region = "SF!"\n')
    result = _run(["run", "--config", str(cfg)], node_env(tmp_path, free_port()))
    assert result.returncode == 2
    line = _one_line(result)
    assert str(cfg) in line and "region" in line


def test_missing_quote_secret_refuses_to_start(tmp_path):
    env = node_env(tmp_path, free_port())
    del env["EQ_QUOTE_SECRET"]
    result = _run(["run"], env)
    assert result.returncode == 2
    assert "EQ_QUOTE_SECRET" in _one_line(result)


def test_nats_port_in_use_exits_2(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = _run(["run"], node_env(tmp_path / "d", free_port(), EQ_NATS_EMBEDDED_PORT=str(port)))
    assert result.returncode == 2
    assert "already in use" in _one_line(result)


def test_http_port_in_use_exits_2_and_stops_embedded_server(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = _run(["run"], node_env(tmp_path / "d", port))
    assert result.returncode == 2
    assert "cannot listen" in _one_line(result)
    assert not (tmp_path / "d" / "nats-server.pid").exists()


def test_config_reference_prints_every_variable(tmp_path):
    result = _run(["config", "--reference"], node_env(tmp_path, free_port()))
    assert result.returncode == 0
    assert "`EQ_NATS_URL`" in result.stdout and "`EQ_QUOTE_SECRET`" in result.stdout


def test_config_check_masks_secrets(tmp_path):
    result = _run(["config"], node_env(tmp_path, free_port()))
    assert result.returncode == 0
    assert "test-quote-secret" not in result.stdout and '"secret": "***"' in result.stdout

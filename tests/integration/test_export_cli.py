"""``equilibrium-node export`` without ``--nats-url``: it reads the embedded server of ``--data-dir``.

While a node runs on that directory the export uses the node's own server (never stopping it);
once the node is gone it starts a temporary server on the stored data and stops it afterwards; a
directory without a JetStream store, or a bad ``--since``, is one line and exit 2.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

from nats.aio.client import Client

from equilibrium_node.bus.embedded import running_server_url
from tests.support.history import encoded, generate, publish_history
from tests.support.nodeproc import NodeProcess, node_env, pid_alive
from tests.support.ports import free_port


def export(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "equilibrium_node", "export", *args], env=env, capture_output=True,
                          text=True, timeout=120)


def test_bad_since_and_missing_store_are_one_line_errors(tmp_path):
    env = node_env(tmp_path / "empty", free_port())
    for args, words in ((["--since", "30x", "--out", str(tmp_path / "o")], ("--since", "30d")),
                        (["--out", str(tmp_path / "o")], ("nothing to export", "--data-dir"))):
        result = export(env, *args)
        assert result.returncode == 2, result.stderr
        lines = [ln for ln in result.stderr.splitlines() if ln.startswith("equilibrium-node:")]
        assert len(lines) == 1 and all(w in lines[0] for w in words), result.stderr
        assert "Traceback" not in result.stderr


async def test_export_from_the_running_node_then_from_its_stored_data(tmp_path):
    data_dir = tmp_path / "data"
    port = free_port()
    env = node_env(data_dir, port)
    history = generate(["soma", "mission"], now=time.time(), days=3, every_s=3600, seed=3)
    node = NodeProcess(tmp_path, env=env, http_port=port).start()
    try:
        await node.wait_ready_async()
        url = running_server_url(data_dir)
        assert url and url.startswith("nats://127.0.0.1:")
        nc = Client()
        await nc.connect(url)
        await publish_history(nc.jetstream(), "sf", encoded(history))
        await nc.close()
        server_pid = node.embedded_pid()
        result = await asyncio.to_thread(export, env, "--since", "2d", "--out", str(tmp_path / "live"))
        assert result.returncode == 0, result.stderr
        assert server_pid is not None and pid_alive(server_pid) and node.embedded_pid() == server_pid
        assert (await node.wait_ready_async())["role"] == "leader"  # the node kept its server
    finally:
        assert node.terminate() == 0
    assert running_server_url(data_dir) is None
    result = await asyncio.to_thread(export, env, "--since", "2d", "--out", str(tmp_path / "stored"))
    assert result.returncode == 0, result.stderr
    live = json.loads((tmp_path / "live" / "export.json").read_text())["rows"]
    stored = json.loads((tmp_path / "stored" / "export.json").read_text())["rows"]
    assert live == stored and live["snapshots.parquet"] > 0 and live["funnel.parquet"] > 0
    assert running_server_url(data_dir) is None and not (Path(data_dir) / "nats-server.pid").exists()

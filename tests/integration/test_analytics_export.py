"""A generated 60-day history in a real nats-server: the node's analytics API, the Parquet export and
the DuckDB query of ``sql/least_efficient_zones.sql`` must rank the same five zones, and both must match
the ranking computed from the raw records in plain Python.

Records carry their own ``ts`` spread over 60 days (a stream's own timestamps cannot be backdated:
everything here is stored "now"), which is what the rollup and the export bucket by. No record lies
within 3 hours of the 30-day edge, because the window's start moves with the wall clock between the
API call, the export and the query.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from nats.aio.client import Client

from equilibrium_node.analytics.report import window_start
from equilibrium_node.bus.provision import provision
from tests.support.api import ADMIN, call
from tests.support.history import DAY, encoded, expected_table, generate, publish_history
from tests.support.nodeproc import NodeProcess, node_env
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
SQL = ROOT / "sql" / "least_efficient_zones.sql"
ZONES = ["financial_district", "soma", "mission", "marina", "haight", "sunset", "north_beach", "castro_noe",
         "sf_default"]


def run_sql(path: Path, data_dir: Path) -> list[tuple]:
    """Run a file of ``sql/`` as it is (every statement; the last one's rows) over the export's files."""
    con = duckdb.connect()
    try:
        con.execute(f"SET file_search_path = '{data_dir}'")
        return con.execute(path.read_text()).fetchall()
    finally:
        con.close()


@pytest.mark.timeout(240)
async def test_api_export_and_duckdb_rank_the_same_zones(tmp_path, nats_server, sf_settings):
    now = time.time()
    edge = now - 30 * DAY
    history = generate(ZONES, now=now, days=60, every_s=3600, seed=7, skip=[(edge - 3 * 3600, edge + 3 * 3600)])
    expected30 = expected_table(history, window_start(now, 30 * DAY))
    expected60 = expected_table(history, window_start(now, 60 * DAY))
    assert [r["zone_id"] for r in expected30[:5]] != [r["zone_id"] for r in expected60[:5]]  # the window matters

    nc = Client()
    await nc.connect(nats_server.url)
    js = nc.jetstream()
    await provision(js, sf_settings)
    count = await publish_history(js, "sf", encoded(history))
    assert count == len(history.snapshots) + len(history.audits)
    port = free_port()
    env = node_env(tmp_path / "data", port, EQ_NATS_URL=nats_server.url)
    node = NodeProcess(tmp_path, env=env, http_port=port).start()
    try:
        await node.wait_ready_async()

        def zones(window: str) -> tuple[int, dict]:
            return call(node.base_url, "GET", f"/api/v1/analytics/zones?window={window}&order=inefficiency&limit=5",
                        headers=ADMIN)  # type: ignore[return-value]

        deadline = time.monotonic() + 60
        status, body = await asyncio.to_thread(zones, "30d")
        while status == 503 and time.monotonic() < deadline:  # the node is still folding the streams in
            await asyncio.sleep(0.3)
            status, body = await asyncio.to_thread(zones, "30d")
        assert status == 200, body
        api30 = body["zones"]
        assert body["total_zones"] == len(expected30) and len(api30) == 5
        assert [z["zone_id"] for z in api30] == [r["zone_id"] for r in expected30[:5]]
        for got, want in zip(api30, expected30, strict=False):
            assert got["avg_multiplier"] == pytest.approx(want["avg_multiplier"], rel=1e-9)
            assert got["conversion"] == pytest.approx(want["conversion"], rel=1e-9)
            assert got["inefficiency"] == pytest.approx(want["inefficiency"], rel=1e-9)
            assert (got["quotes"], got["accepts"], got["snapshots"]) == (want["quotes"], want["accepts"],
                                                                         want["snapshots"])
            assert (got["surge_events"], got["decrease_events"]) == (want["surge_events"], want["decrease_events"])
        status, body60 = await asyncio.to_thread(zones, "60d")
        assert [z["zone_id"] for z in body60["zones"]] == [r["zone_id"] for r in expected60[:5]]

        # the export, as a user runs it (stderr is a pipe here: plain progress lines)
        out = tmp_path / "export"
        cli_env = {k: v for k, v in env.items() if k != "EQ_HTTP"}
        result = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "equilibrium_node", "export", "--since", "30d", "--out", str(out),
                             "--nats-url", nats_server.url], env=cli_env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert "export: snapshots done" in result.stderr and "export: audit done" in result.stderr, result.stderr
        assert "\r" not in result.stderr and "Traceback" not in result.stderr
        manifest = json.loads((out / "export.json").read_text())
        in_window = [r for r in history.snapshots if r.ts >= window_start(now, 30 * DAY)]
        assert manifest["rows"]["snapshots.parquet"] == len(in_window)
        assert pq.read_schema(out / "snapshots.parquet").field("ts").type.tz == "UTC"
        funnel = pq.read_table(out / "funnel.parquet").to_pylist()
        assert sum(r["quotes"] for r in funnel) == sum(r.quotes for r in in_window)

        rows = run_sql(SQL, out)
        assert [r[0] for r in rows] == [z["zone_id"] for z in api30]
        for row, got in zip(rows, api30, strict=True):
            assert row[-1] == pytest.approx(got["inefficiency"], rel=1e-9)
            assert (row[4], row[5], row[6], row[7]) == (got["surge_events"], got["decrease_events"], got["quotes"],
                                                        got["accepts"])
        assert rows[0][1]  # zone names come from zones.parquet
        for example in sorted(SQL.parent.glob("*.sql")):  # every example runs on a real export
            assert isinstance(run_sql(example, out), list), example
        assert run_sql(SQL.parent / "conversion_by_hour.sql", out)
    finally:
        assert node.terminate() == 0
        await nc.close()

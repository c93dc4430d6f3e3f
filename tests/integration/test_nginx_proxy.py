"""The repo's nginx config (deploy/nginx/sf.conf) in front of two real nodes of one region: REST, a WebSocket
stream and an SSE stream pass through it (upgrade headers, no buffering), and when one node dies requests keep
being answered by the other. Skipped where no ``nginx`` binary is installed (.ci/run installs one)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import aiohttp
import pytest

from tests.support.nodeproc import NodeProcess, node_env
from tests.support.ports import free_port
from tests.support.streams import next_event, next_json, sse_events, subscribe_msg

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)

pytestmark = [pytest.mark.skipif(NGINX is None, reason="nginx is not installed"), pytest.mark.slow]

SSE = "/api/v1/stream/heatmap/sse?bounds=37.75,-122.45,37.8,-122.39&zoom=14"
QUOTE = {"pickup_location": {"latitude": 37.7946, "longitude": -122.395},
         "dropoff_location": {"latitude": 37.76, "longitude": -122.41}, "vehicle_type": "standard", "user_id": "u"}


def nginx_conf(tmp_path: Path, port: int, upstreams: dict[str, int]) -> Path:
    """deploy/nginx/sf.conf with the compose service names replaced by local ports, inside a minimal main file."""
    site = (ROOT / "deploy" / "nginx" / "sf.conf").read_text().replace("listen 80;", f"listen 127.0.0.1:{port};")
    for host, node_port in upstreams.items():
        assert f"server {host}:8080" in site
        site = site.replace(f"server {host}:8080", f"server 127.0.0.1:{node_port}")
    (tmp_path / "site.conf").write_text(site)
    main = tmp_path / "nginx.conf"
    temp = {name: tmp_path / name for name in ("client", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir(exist_ok=True)
    main.write_text(f"""worker_processes 1;
daemon off;
pid {tmp_path / "nginx.pid"};
error_log {tmp_path / "error.log"} warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {temp["client"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
    include {tmp_path / "site.conf"};
}}
""")
    return main


async def test_rest_websocket_and_sse_through_nginx_and_a_node_lost_behind_it(tmp_path, nats_server):
    nodes = {}
    for name in ("sf-a", "sf-b"):
        port = free_port()
        env = node_env(tmp_path / f"{name}-data", port, EQ_NATS_URL=nats_server.url, EQ_NODE_ID=name)
        nodes[name] = NodeProcess(tmp_path, env=env, http_port=port, name=name).start()
    proxy_port = free_port()
    conf = nginx_conf(tmp_path, proxy_port, {name: n.http_port for name, n in nodes.items()})
    check = await asyncio.create_subprocess_exec(NGINX, "-t", "-c", str(conf), "-p", str(tmp_path),
                                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _out, err = await check.communicate()
    assert check.returncode == 0, err.decode()
    nginx = await asyncio.create_subprocess_exec(NGINX, "-c", str(conf), "-p", str(tmp_path),
                                                 stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{proxy_port}"
    try:
        for node in nodes.values():
            await node.wait_ready_async()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            seen = set()
            for _ in range(40):  # round robin over both nodes
                try:
                    async with http.get(base + "/readyz") as resp:
                        if resp.status == 200:
                            seen.add((await resp.json())["node_id"])
                except aiohttp.ClientError:
                    pass
                if len(seen) == 2:
                    break
                await asyncio.sleep(0.05)
            assert seen == {"sf-a", "sf-b"}
            async with http.post(base + "/api/v1/pricing/estimate", json=QUOTE) as resp:
                assert resp.status == 200
            # WebSocket: the upgrade passes, messages flow both ways
            async with http.ws_connect(base.replace("http", "ws") + "/api/v1/stream/heatmap/ws") as ws:
                await ws.send_json(subscribe_msg())
                assert (await next_json(ws))["type"] == "snapshot"
            # SSE: the first event arrives while the response stays open (nothing buffered)
            async with http.get(base + SSE, timeout=aiohttp.ClientTimeout(total=None, sock_read=10)) as resp:
                assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/event-stream")
                event = await next_event(sse_events(resp), timeout=5)
                assert event["event"] == "snapshot"

            # one node dies: nginx skips it, every request is still answered
            nodes["sf-a"].kill()
            for _ in range(20):
                async with http.get(base + "/api/v1/pricing/heatmap?bounds=37.7,-122.5,37.85,-122.35&zoom=12") as r:
                    assert r.status == 200
                async with http.get(base + "/readyz") as resp:
                    assert resp.status == 200 and (await resp.json())["node_id"] == "sf-b"
            async with http.ws_connect(base.replace("http", "ws") + "/api/v1/stream/heatmap/ws") as ws:
                await ws.send_json(subscribe_msg())
                assert (await next_json(ws))["type"] == "snapshot"
    finally:
        nginx.terminate()
        await asyncio.wait_for(nginx.wait(), 10)
        for node in nodes.values():
            node.kill()

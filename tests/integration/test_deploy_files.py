"""The deployment files agree with each other and with the node: the NATS cluster configs are valid for the
real nats-server, docker-compose.yml wires 3 NATS servers, 2 regions x 2 nodes (R3) and an nginx per region,
and each nginx config proxies its region's nodes with WebSocket upgrades and unbuffered SSE.
(The topology itself runs as local processes in test_cluster_failover.py; there is no Docker engine here.)"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from equilibrium_node.bus.embedded import find_binary
from equilibrium_node.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
NODES = {name: svc for name, svc in SERVICES.items() if svc.get("build")}


@pytest.mark.parametrize("number", [1, 2, 3])
def test_cluster_configs_are_valid_and_route_to_all_three(number):
    conf = ROOT / "nats" / "cluster" / f"nats-{number}.conf"
    done = subprocess.run([find_binary(), "-c", str(conf), "-t"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
    text = conf.read_text()
    assert f"server_name: nats-{number}\n" in text and "name: eq\n" in text
    assert sorted(re.findall(r"nats-route://(nats-\d):6222", text)) == ["nats-1", "nats-2", "nats-3"]
    assert "jetstream {" in text and "max_payload: 1MB" in text


def test_compose_runs_three_nats_servers_from_the_repo_configs():
    nats = {name: svc for name, svc in SERVICES.items() if name.startswith("nats-")}
    assert sorted(nats) == ["nats-1", "nats-2", "nats-3"]
    for name, svc in nats.items():
        assert f"./nats/cluster/{name}.conf:/etc/nats/nats.conf:ro" in svc["volumes"]
        assert svc["command"] == ["-c", "/etc/nats/nats.conf"]


def test_compose_runs_two_regions_of_two_r3_nodes_with_their_own_configs():
    assert sorted(NODES) == ["nyc-a", "nyc-b", "sf-a", "sf-b"]
    regions: dict[str, list[str]] = {}
    for name, svc in NODES.items():
        env = svc["environment"]
        assert env["EQ_NATS_REPLICAS"] == "3"
        assert env["EQ_NATS_URL"].split(",") == [f"nats://nats-{n}:4222" for n in (1, 2, 3)]
        assert env["EQ_NODE_ID"] == name and env["EQ_CLUSTER_ADVERTISE"] == f"http://{name}:8080"
        assert env["EQ_HTTP"] == "0.0.0.0:8080"
        assert env["EQ_QUOTE_SECRET"].startswith("${") and env["EQ_ADMIN_TOKEN"].startswith("${")  # no default
        config = ROOT / env["EQ_CONFIG"].removeprefix("/app/")
        settings = load_settings(config, env={})
        assert name.startswith(f"{settings.region}-")
        regions.setdefault(settings.region, []).append(name)
        assert sorted(svc["depends_on"]) == ["nats-1", "nats-2", "nats-3"]
    assert regions == {"sf": ["sf-a", "sf-b"], "nyc": ["nyc-a", "nyc-b"]}
    # the nodes of a region share its quote secret (any node verifies any quote), regions do not
    for region, names in regions.items():
        assert {NODES[n]["environment"]["EQ_QUOTE_SECRET"] for n in names} == {
            f"${{{region.upper()}_QUOTE_SECRET:?set {region.upper()}_QUOTE_SECRET}}"}


def _locations(conf: str) -> dict[str, str]:
    return {m.group(1).strip(): m.group(2)
            for m in re.finditer(r"^    location ([^{\n]+)\{(.*?)\n    \}", conf, re.S | re.M)}


@pytest.mark.parametrize("region", ["sf", "nyc"])
def test_nginx_fronts_each_region_with_websocket_and_sse_proxying(region):
    svc = SERVICES[f"nginx-{region}"]
    assert f"./deploy/nginx/{region}.conf:/etc/nginx/conf.d/default.conf:ro" in svc["volumes"]
    assert sorted(svc["depends_on"]) == [f"{region}-a", f"{region}-b"]
    conf = (ROOT / "deploy" / "nginx" / f"{region}.conf").read_text()
    upstream = re.search(r"upstream (\w+) \{(.*?)\}", conf, re.S)
    assert upstream is not None
    servers = re.findall(r"server ([\w-]+):(\d+)", upstream.group(2))
    assert sorted(servers) == [(f"{region}-a", "8080"), (f"{region}-b", "8080")]
    assert "proxy_http_version 1.1;" in conf
    locations = _locations(conf)
    assert set(locations) == {"/", "= /api/v1/stream/heatmap/ws", "= /api/v1/stream/heatmap/sse"}
    for body in locations.values():
        assert f"proxy_pass http://{upstream.group(1)};" in body
        assert "proxy_set_header Host $host;" in body  # not inherited once a location sets any header
    ws = locations["= /api/v1/stream/heatmap/ws"]
    assert "proxy_set_header Upgrade $http_upgrade;" in ws and "proxy_set_header Connection $eq_" in ws
    assert re.search(r"map \$http_upgrade \$eq_\w+_connection \{\s*default upgrade;", conf)
    sse = locations["= /api/v1/stream/heatmap/sse"]
    assert "proxy_buffering off;" in sse and "gzip off;" in sse
    for body in (ws, sse):  # longer than the node's heartbeat (push.heartbeat_s = 10 s)
        assert "proxy_read_timeout 1h;" in body
    ports = [p for name, s in SERVICES.items() if name.startswith("nginx-") for p in s["ports"]]
    assert len(ports) == len(set(ports)) == 2


def test_the_image_ships_what_the_node_reads_next_to_its_package():
    dockerfile = (ROOT / "Dockerfile").read_text()
    for part in ("equilibrium_node", "plugins", "config", "web"):
        assert f"COPY {part} ./{part}" in dockerfile
    assert "pip install --no-cache-dir -e ." in dockerfile and 'ENTRYPOINT ["equilibrium-node"]' in dockerfile

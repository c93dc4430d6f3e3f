"""Heatmap stream fan-out: the node's hub against a bare aiohttp broadcast of the same bytes, same run.

    .venv/bin/python benchmarks/fanout.py                      # 2000 clients, 10 s per phase
    .venv/bin/python benchmarks/fanout.py --clients 200 --seconds 5   # smoke

Processes: a nats-server; the real node (``python -m equilibrium_node run``, uvloop) serving the
stream; one client process holding N raw-asyncio WebSocket clients, each on a random San Francisco
viewport (zoom 10-15, a phone-sized box); and this driver, which writes a tick into KV
``eq_sf_surge`` every ``--tick-s``: 10% of the region's cells, every update stamped with the tick's
start time (``updated_at``, microseconds). Clients measure latency as receipt time minus the
``last_updated`` of each delta (KV update -> client receipt, same machine clock).

Phase 2 replaces the node by a bare aiohttp server (``--role bare``): the same clients connect, each
asks for a payload of the mean size it received from the hub, and every ``--tick-s`` the server runs
the naive ``for ws in clients: await ws.send_bytes(payload)`` loop, stamped with the round's start.

Figures: deliveries/s achieved, latency p50/p99, server CPU per delivery, and the capacity that
implies (deliveries per second of one server core). Achieved deliveries/s are paced by the ticks
(the hub only sends to clients whose viewport changed; the bare server sends to all), so the goal's
"deliveries/s" ratio is taken on capacity: deliveries per server CPU-second, on a shared 2-core
machine where the client process and NATS compete for the same cores. It is printed twice: for the
whole process, and for the fan-out alone (the idle CPU of each server with every client connected,
measured over an equal window holding one heartbeat per client, subtracted). At ``--tick-s 1`` there
are few deliveries per CPU-second of idle work and the per-delivery figures are noisy; ``--tick-s 0.1``
is the capacity run. ``FANOUT_PROFILE=file`` runs the node under cProfile.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import resource
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SF_EXTENT = (37.70, -122.51, 37.81, -122.37)  # where the bundled zones are
MIN_CPU_S = 0.2  # less CPU than this in a window makes per-delivery figures meaningless (n/a)
SCREEN_PX = (400, 800)  # a phone in portrait
ZOOMS = (10, 11, 12, 13, 13, 14, 14, 15, 15)


def raise_fd_limit() -> int:
    """Soft RLIMIT_NOFILE up to the hard limit (N clients need N sockets here and in the server)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def now_rfc3339() -> str:
    """Wall clock, UTC, microseconds."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def viewport(rng: random.Random) -> tuple[list[float], int]:
    """A random phone viewport over San Francisco."""
    import math

    zoom = rng.choice(ZOOMS)
    lat = rng.uniform(SF_EXTENT[0], SF_EXTENT[2])
    lng = rng.uniform(SF_EXTENT[1], SF_EXTENT[3])
    deg_per_px = 360.0 / (256 * 2**zoom)
    half_lng = SCREEN_PX[0] * deg_per_px / 2
    half_lat = SCREEN_PX[1] * deg_per_px * math.cos(math.radians(lat)) / 2
    box = [lat - half_lat, lng - half_lng, lat + half_lat, lng + half_lng]
    return [round(v, 6) for v in box], zoom


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A free loopback port."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- clients (a separate process) -------------------------------------------------------------------
class Stats:
    """What the clients received since the last reset."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.reset()
        self.ready = 0

    def reset(self) -> None:
        self.deliveries = 0
        self.bytes = 0
        self.latencies: list[float] = []
        self.sizes = [[0, 0] for _ in range(self.n)]  # per client: bytes, messages
        self._ts: dict[bytes, float] = {}

    def stamp(self, raw: bytes) -> float:
        """Epoch seconds of an RFC 3339 stamp (cached: one per tick)."""
        value = self._ts.get(raw)
        if value is None:
            value = self._ts[raw] = dt.datetime.fromisoformat(raw.decode().replace("Z", "+00:00")).timestamp()
        return value


def _mask(payload: bytes, opcode: int) -> bytes:
    key = os.urandom(4)
    n = len(payload)
    head = bytes((0x80 | opcode, 0x80 | n)) if n < 126 else struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


class WsClient(asyncio.Protocol):
    """A minimal WebSocket client: upgrade, one message out, then count and time what comes in."""

    LU = b'"last_updated":"'

    def __init__(self, idx: int, host: str, path: str, hello: bytes, stats: Stats, ready: asyncio.Future) -> None:
        self.idx, self.host, self.path, self.hello, self.stats, self.ready = idx, host, path, hello, stats, ready
        self.buf = b""
        self.upgraded = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport = transport
        key = "dGhlIHNhbXBsZSBub25jZQ=="
        transport.write(f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\n"
                        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                        .encode())

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.upgraded:
            head, sep, rest = self.buf.partition(b"\r\n\r\n")
            if not sep:
                return
            if not head.startswith(b"HTTP/1.1 101"):
                self.ready.set_exception(RuntimeError(head[:80]))
                return
            self.upgraded = True
            self.buf = rest
            self.transport.write(_mask(self.hello, 0x1))  # type: ignore[union-attr]
        buf, i, now = self.buf, 0, time.time()
        stats = self.stats
        while len(buf) - i >= 2:
            opcode, n = buf[i] & 0x0F, buf[i + 1] & 0x7F
            j = i + 2
            if n == 126:
                if len(buf) - j < 2:
                    break
                n = (buf[j] << 8) | buf[j + 1]
                j += 2
            elif n == 127:
                if len(buf) - j < 8:
                    break
                (n,) = struct.unpack_from("!Q", buf, j)
                j += 8
            if len(buf) - j < n:
                break
            payload = buf[j:j + n]
            i = j + n
            if opcode in (0x1, 0x2):
                if payload.startswith(b'{"type":"snapshot"') or payload.startswith(b'{"type":"ready"'):
                    if not self.ready.done():
                        self.ready.set_result(None)
                    continue
                if payload.startswith(b'{"type":"status"'):
                    continue
                stats.deliveries += 1
                stats.bytes += n
                size = stats.sizes[self.idx]
                size[0] += n
                size[1] += 1
                k = payload.find(self.LU)
                if k >= 0:
                    end = payload.index(b'"', k + len(self.LU))
                    stats.latencies.append(now - stats.stamp(payload[k + len(self.LU):end]))
            elif opcode == 0x9:  # ping: answer, or the server drops us
                self.transport.write(_mask(payload, 0xA))  # type: ignore[union-attr]
        self.buf = buf[i:]


async def run_clients(args) -> None:
    """Connect every client, then obey commands on stdin (reset, report, quit)."""
    raise_fd_limit()
    loop = asyncio.get_running_loop()
    specs = json.loads(await asyncio.to_thread(Path(args.spec).read_text))
    stats = Stats(len(specs))
    host, port = args.host, args.port
    gate = asyncio.Semaphore(100)

    async def one(idx: int, hello: bytes) -> None:
        async with gate:
            ready = loop.create_future()
            await loop.create_connection(lambda: WsClient(idx, f"{host}:{port}", args.path, hello, stats, ready),
                                         host, port)
            await asyncio.wait_for(ready, 60)

    await asyncio.gather(*(one(i, s.encode()) for i, s in enumerate(specs)))
    print("ready", flush=True)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).decode().strip():
        if line == "reset":
            stats.reset()
            print("ok", flush=True)
        elif line == "report":
            print(json.dumps({"deliveries": stats.deliveries, "bytes": stats.bytes, "latencies": stats.latencies,
                              "sizes": [b / m if m else 0 for b, m in stats.sizes]}), flush=True)
        elif line == "quit":
            break


# --- the bare broadcast server (a separate process) -----------------------------------------------------
async def run_bare(args) -> None:
    """``await ws.send_bytes(payload)`` for every client, every tick: the baseline."""
    from aiohttp import web

    raise_fd_limit()
    clients: list[tuple[web.WebSocketResponse, int]] = []
    filler = b" " * 1_000_000

    async def stream(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False, heartbeat=args.heartbeat_s)  # as the node's streams
        await ws.prepare(request)
        hello = json.loads((await ws.receive()).data)
        clients.append((ws, int(hello["size"])))
        await ws.send_bytes(b'{"type":"ready"}')
        async for _ in ws:
            pass
        return ws

    tasks: set[asyncio.Task] = set()

    async def start(request: web.Request) -> web.Response:
        body = await request.json()
        task = asyncio.create_task(rounds(body["tick_s"], body["seconds"]))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return web.Response(text="started")

    async def rounds(tick_s: float, seconds: float) -> None:
        t0 = time.monotonic()
        k = 0
        while time.monotonic() - t0 < seconds:
            stamp = now_rfc3339().encode()
            head = b'{"type":"delta","last_updated":"' + stamp + b'","pad":"'
            for ws, size in clients:
                payload = head + filler[: max(0, size - len(head) - 2)] + b'"}'
                await ws.send_bytes(payload)
            k += 1
            await asyncio.sleep(max(0.0, t0 + k * tick_s - time.monotonic()))

    app = web.Application()
    app.router.add_get("/ws", stream)
    app.router.add_post("/start", start)
    runner = web.AppRunner(app, access_log=None, handle_signals=True)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", args.port, backlog=4096).start()
    print("listening", flush=True)
    await asyncio.Event().wait()


# --- the driver -------------------------------------------------------------------------------------
class ClientProcess:
    """The client process and its line protocol (``ready``, then ``reset`` / ``report`` / ``quit``)."""

    def __init__(self, spec_file: Path, port: int, path: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--role", "clients", "--spec", str(spec_file), "--host", "127.0.0.1",
             "--port", str(port), "--path", path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    async def expect(self, word: str, timeout: float = 120.0) -> str:
        """The next line, which must start with ``word``."""
        line = await asyncio.wait_for(asyncio.to_thread(self.proc.stdout.readline), timeout)  # type: ignore[union-attr]
        if not line.startswith(word):
            raise RuntimeError(f"client process said {line[:200]!r}, expected {word}")
        return line

    async def command(self, cmd: str, answer: str) -> str:
        """Send a command, return its answer."""
        self.proc.stdin.write(cmd + "\n")  # type: ignore[union-attr]
        self.proc.stdin.flush()  # type: ignore[union-attr]
        return await self.expect(answer)

    def stop(self) -> None:
        """Quit (kill when it does not)."""
        with contextlib.suppress(Exception):
            self.proc.stdin.write("quit\n")  # type: ignore[union-attr]
            self.proc.stdin.flush()  # type: ignore[union-attr]
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def spawn(command: list[str], env: dict[str, str] | None = None, log: Path | None = None) -> subprocess.Popen:
    """A child process: its stdout piped (or into ``log``). ``FANOUT_PROFILE=file`` profiles the node."""
    if log is None:
        return subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if os.environ.get("FANOUT_PROFILE"):
        command = [command[0], "-m", "cProfile", "-o", os.environ["FANOUT_PROFILE"], *command[1:]]
    with log.open("wb") as out:
        return subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


def stop_process(proc: subprocess.Popen | None) -> None:
    """SIGTERM, then SIGKILL after 15 s."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(15)
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def wait_http(url: str, timeout_s: float = 60.0) -> None:
    """Poll until ``url`` answers 200."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as resp:
            if resp.status == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def summarize(name: str, report: dict, seconds: float, cpu_s: float, idle_share: float) -> dict:
    """Figures of one phase: whole-process CPU per delivery, and the fan-out's own (idle CPU subtracted)."""
    lat = sorted(report["latencies"])
    n = report["deliveries"]
    nan = float("nan")
    fanout_s = cpu_s - idle_share * seconds
    # /proc counts CPU in clock ticks (10 ms): below ~20 of them a per-delivery figure is noise
    fanout_s = fanout_s if fanout_s >= MIN_CPU_S and n else nan
    cpu_s = cpu_s if cpu_s >= MIN_CPU_S and n else nan
    return {
        "name": name, "deliveries": n, "per_s": n / seconds, "mb_per_s": report["bytes"] / seconds / 1e6,
        "p50_ms": statistics.median(lat) * 1000 if lat else nan,
        "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000 if lat else nan,
        "cpu_us": cpu_s / n * 1e6 if n else nan, "idle_pct": idle_share * 100,
        "fanout_us": fanout_s / n * 1e6 if n else nan, "capacity": n / fanout_s,
    }


def surge(cell: str, multiplier: float, stamp: str, rng: random.Random) -> bytes:
    """A surge update as the leader writes it, stamped with its tick's start."""
    from equilibrium_node.messages import SurgeUpdate, encoder

    return encoder.encode(SurgeUpdate(
        cell=cell, zone_id="sf_default", vehicle_type="standard", multiplier=multiplier, supply=rng.randint(0, 20),
        demand=rng.randint(0, 30), demand_level="high", trend="stable", algorithm="bench", rev=0, updated_at=stamp))


async def ticks(kv, cells: list[str], rng: random.Random, tick_s: float, seconds: float, quiet: bool = False) -> int:
    """Write a tick every ``tick_s`` for ``seconds``: 10% of the cells, stamped with the tick's start."""
    count = max(1, len(cells) // 10)
    t0 = time.monotonic()
    k = 0
    while time.monotonic() - t0 < seconds:
        stamp = now_rfc3339()
        await asyncio.gather(*(kv.put(f"{c}.standard", surge(c, round(rng.uniform(1.0, 3.0), 1), stamp, rng))
                               for c in rng.sample(cells, count)))
        k += 1
        if not quiet and k % max(1, round(1 / tick_s)) == 0:
            print(f"    {time.monotonic() - t0:4.1f} s: {k} ticks written", flush=True)
        await asyncio.sleep(max(0.0, t0 + k * tick_s - time.monotonic()))
    return k


async def measure(name: str, pid: int, clients: ClientProcess, args, connected_at: float, warm_up, load) -> dict:
    """Idle baseline, then the load, on one server process; each window holds one heartbeat per client.

    Clients connect within about a second, so their WS pings come in a burst every ``heartbeat_s``
    after that: the windows start half a heartbeat later and last ``--seconds`` (a multiple of it).
    """
    await warm_up()
    await asyncio.sleep(max(0.0, connected_at + args.heartbeat_s / 2 - time.monotonic()))
    print(f"  {name}: idle for {args.seconds:.0f} s (baseline CPU) ...", flush=True)
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(args.seconds)
    idle_share = (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0)
    await clients.command("reset", "ok")
    print(f"  {name}: load for {args.seconds:.0f} s ...", flush=True)
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    await load()
    await asyncio.sleep(min(1.0, args.tick_s) + 0.3)  # the last tick's deliveries
    elapsed, cpu = time.monotonic() - t0, cpu_seconds(pid) - cpu0
    report = json.loads(await clients.command("report", "{"))
    return summarize(name, report, elapsed, cpu, idle_share) | {"sizes": report["sizes"]}


async def hub_phase(args, url: str, work: Path, region: list[str], specs, rng: random.Random) -> dict:
    """The node serving the stream from KV while this process writes ticks."""
    from nats.aio.client import Client

    http_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EQ_")}
    env.update({"EQ_NATS_URL": url, "EQ_HTTP": f"127.0.0.1:{http_port}", "EQ_QUOTE_SECRET": "bench",
                "EQ_DATA_DIR": str(work / "node"), "EQ_PRICING_TICK_S": str(args.tick_s),
                "EQ_PUSH_MAX_CONNECTIONS": str(args.clients + 100), "EQ_PUSH_HEARTBEAT_S": str(args.heartbeat_s),
                "EQ_LOG_LEVEL": "warning"})
    node = spawn([sys.executable, "-m", "equilibrium_node", "run"], env=env, log=work / "node.log")
    clients = None
    nc = Client()
    try:
        await asyncio.to_thread(wait_http, f"http://127.0.0.1:{http_port}/readyz")
        await nc.connect(url)
        kv = await nc.jetstream().key_value("eq_sf_surge")
        stamp = now_rfc3339()
        await asyncio.gather(*(kv.put(f"{c}.standard", surge(c, 1.0, stamp, rng)) for c in region))
        spec_file = work / "hub.json"
        spec_file.write_text(json.dumps([json.dumps({"type": "subscribe", "bounds": b, "zoom": z}) for b, z in specs]))
        print(f"hub: {len(region)} cells, {args.clients} clients connecting ...", flush=True)
        started = time.monotonic()
        clients = ClientProcess(spec_file, http_port, "/api/v1/stream/heatmap/ws")
        await clients.expect("ready")
        connected_at = time.monotonic()
        print(f"  connected, snapshots received in {connected_at - started:.1f} s", flush=True)
        return await measure(
            "hub", node.pid, clients, args, connected_at,
            lambda: ticks(kv, region, rng, args.tick_s, min(2.0, args.heartbeat_s / 4), quiet=True),
            lambda: ticks(kv, region, rng, args.tick_s, args.seconds))
    finally:
        if clients is not None:
            clients.stop()
        await nc.close()
        stop_process(node)


async def bare_phase(args, work: Path, sizes: list[float]) -> dict:
    """The bare aiohttp broadcast, each client asking for the mean size it got from the hub."""
    port = free_port()
    bare = spawn([sys.executable, __file__, "--role", "bare", "--port", str(port), "--heartbeat-s",
                  str(args.heartbeat_s)])
    clients = None
    try:
        await asyncio.to_thread(bare.stdout.readline)  # type: ignore[union-attr]
        mean = statistics.fmean([s for s in sizes if s] or [500.0])
        spec_file = work / "bare.json"
        spec_file.write_text(json.dumps([json.dumps({"type": "hello", "size": int(s or mean)}) for s in sizes]))
        print(f"bare: {args.clients} clients connecting ...", flush=True)
        clients = ClientProcess(spec_file, port, "/ws")
        await clients.expect("ready")
        connected_at = time.monotonic()

        async def broadcast() -> None:
            body = json.dumps({"tick_s": args.tick_s, "seconds": args.seconds}).encode()
            request = urllib.request.Request(f"http://127.0.0.1:{port}/start", data=body, method="POST")
            await asyncio.to_thread(lambda: urllib.request.urlopen(request, timeout=5).read())
            for second in range(int(args.seconds)):
                await asyncio.sleep(1)
                print(f"    {second + 1:4.1f} s: broadcasting", flush=True)
            await asyncio.sleep(args.seconds - int(args.seconds))

        async def nothing() -> None:
            return None

        return await measure("bare", bare.pid, clients, args, connected_at, nothing, broadcast)
    finally:
        if clients is not None:
            clients.stop()
        stop_process(bare)


async def drive(args) -> None:
    """Both phases, then the table."""
    from equilibrium_node.bus.embedded import EmbeddedNatsServer
    from equilibrium_node.geo import cells as s2

    limit = raise_fd_limit()
    if limit < args.clients + 200:
        raise SystemExit(f"RLIMIT_NOFILE is {limit}: too low for {args.clients} clients")
    rng = random.Random(args.seed)
    region = s2.cover_rect(*SF_EXTENT, 13, 100_000) or []
    specs = [viewport(rng) for _ in range(args.clients)]
    work = Path(tempfile.mkdtemp(prefix="eq-fanout-"))
    try:
        nats = EmbeddedNatsServer(work / "nats", port=0, name="eq-bench")
        url = await nats.start()
        try:
            hub = await hub_phase(args, url, work, region, specs, rng)
        finally:
            await nats.stop()
        bare = await bare_phase(args, work, hub["sizes"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    mean_size = statistics.fmean([s for s in hub["sizes"] if s] or [0.0])

    print(f"\nfan-out: {args.clients} WebSocket clients, random SF viewports (zoom 10-15), tick {args.tick_s} s, "
          f"{args.seconds:.0f} s, 10% of {len(region)} cells per tick, mean delta {mean_size:.0f} B, "
          f"WS heartbeat {args.heartbeat_s:.0f} s on both servers")
    print(f"{'':23} {'deliv/s':>8} {'MB/s':>5} {'p50 ms':>7} {'p99 ms':>7} {'CPU us/deliv':>12} {'idle CPU':>8} "
          f"{'fan-out us/deliv':>16} {'deliv/s per core':>16}")
    for r, label in ((hub, "hub (node)"), (bare, "bare aiohttp broadcast")):
        print(f"{label:23} {r['per_s']:8.0f} {r['mb_per_s']:5.2f} {r['p50_ms']:7.1f} {r['p99_ms']:7.1f} "
              f"{r['cpu_us']:12.1f} {r['idle_pct']:7.1f}% {r['fanout_us']:16.1f} {r['capacity']:16.0f}")
    print(f"hub/bare deliveries per CPU-second: {hub['capacity'] / bare['capacity']:.2f} fan-out only, "
          f"{bare['cpu_us'] / hub['cpu_us']:.2f} whole process (goal >= 0.7); "
          f"hub p99 {hub['p99_ms']:.0f} ms (goal < 250 ms at 2000 clients)")
    if any(r["capacity"] != r["capacity"] for r in (hub, bare)):
        print("(nan: too little CPU used to measure per delivery; run with more clients or a shorter --tick-s)")


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--tick-s", type=float, default=1.0)
    parser.add_argument("--heartbeat-s", type=float, default=10.0, help="WS pings, node and bare server alike")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--smoke", action="store_true", help="200 clients, 5 s")
    parser.add_argument("--role", choices=("driver", "clients", "bare"), default="driver", help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    parser.add_argument("--host", default="127.0.0.1", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--path", default="/", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.smoke:
        args.clients, args.seconds, args.heartbeat_s = 200, 5.0, 5.0
    import uvloop

    runner = {"driver": drive, "clients": run_clients, "bare": run_bare}[args.role]
    uvloop.run(runner(args))


if __name__ == "__main__":
    main()

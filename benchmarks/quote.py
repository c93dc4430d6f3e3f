"""Quote serving: ``POST /api/v1/pricing/estimate`` under load while the node ingests events, vs a bare handler.

One run, same machine, same load generator, same background traffic:

1. a nats-server and an ``equilibrium-node run`` process on it (the node under test);
2. a publisher process sending driver pings and rider signals to the location stream at
   ``--events-per-s`` (default 10 000/s) for the whole run, as the apps would;
3. **baseline**: a bare aiohttp process (uvloop, no access log, the node's HTTP settings) whose POST
   handler reads the body and returns a fixed JSON quote: what aiohttp itself costs per request;
4. **quote**: the node's estimate endpoint with valid, varied trips around San Francisco.

Each phase drives ``--connections`` (64) keep-alive connections for ``--duration`` (20 s) after a 2 s
warm-up, with ``wrk`` when it is on PATH (``apt-get install wrk``), else an async Python load generator in
its own process (raw HTTP/1.1 over asyncio streams; it can saturate before the server does, the
figures then show the generator's ceiling for both phases alike). Prints requests/s, p50 and p99 of
both, and the ratio quote/baseline (goal: >= 0.7, p99 < 25 ms).

    .venv/bin/python benchmarks/quote.py [--duration 20] [--connections 64] [--events-per-s 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SF_BOX = (37.70, -122.51, 37.81, -122.38)
VEHICLES = ("standard", "standard", "standard", "xl", "premium")
BARE_BODY = (b'{"quote_id":"q1.bare","base_fare":8.5,"surge_multiplier":1.3,"final_fare":11.05,"currency":"USD",'
             b'"quote_valid_until":"2024-05-01T17:05:12.345Z","estimated_duration":9.5,"estimated_distance":3.2,'
             b'"zone_info":{"zone_id":"soma","zone_name":"SoMa","current_demand_level":"high"},'
             b'"vehicle_type":"standard","degraded":false}')


def free_port() -> int:
    """A free TCP port on loopback."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def trip_bodies(n: int = 256, seed: int = 1) -> list[bytes]:
    """Valid estimate bodies with pickups and dropoffs spread over San Francisco."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        def point():
            return {"latitude": round(rnd.uniform(SF_BOX[0], SF_BOX[2]), 5),
                    "longitude": round(rnd.uniform(SF_BOX[1], SF_BOX[3]), 5)}
        out.append(json.dumps({"pickup_location": point(), "dropoff_location": point(),
                               "vehicle_type": VEHICLES[i % len(VEHICLES)], "user_id": f"rider-{i}"}).encode())
    return out


# --- roles run in their own processes -------------------------------------------------------------
def run_bare(port: int) -> None:
    """The baseline: a bare aiohttp POST handler returning a fixed JSON body."""
    import uvloop
    from aiohttp import web

    async def handler(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=BARE_BODY, content_type="application/json")

    async def main() -> None:
        app = web.Application(client_max_size=64 * 1024)
        app.router.add_post("/api/v1/pricing/estimate", handler)
        runner = web.AppRunner(app, access_log=None, handle_signals=True)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, backlog=2048, reuse_address=True).start()
        await asyncio.Event().wait()

    uvloop.run(main())


def run_publisher(nats_url: str, rate: float, seconds: float) -> None:
    """Publish driver pings (80 %) and rider signals (20 %) at ``rate`` per second; print the achieved rate."""
    import uvloop
    from nats.aio.client import Client

    async def main() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        nc = Client()
        await nc.connect(nats_url, pending_size=256 * 1024 * 1024)
        rnd = random.Random(7)
        drivers = [f"d{i}" for i in range(3000)]
        sent = 0
        start = time.monotonic()
        tick = 0.01
        while (elapsed := time.monotonic() - start) < seconds and not stop.is_set():
            due = int(elapsed * rate) - sent
            now = time.time()
            for _ in range(max(0, due)):
                lat, lng = rnd.uniform(SF_BOX[0], SF_BOX[2]), rnd.uniform(SF_BOX[1], SF_BOX[3])
                eid = f"e{sent}-{start:.0f}"
                if sent % 5:
                    body = {"event_id": eid, "driver_id": rnd.choice(drivers), "lat": lat, "lng": lng,
                            "status": "available", "vehicle_type": "standard", "ts": now}
                    subject = "eq.sf.location.driver"
                else:
                    body = {"event_id": eid, "rider_id": f"r{sent}", "lat": lat, "lng": lng, "kind": "app_open",
                            "vehicle_type": "standard", "ts": now}
                    subject = "eq.sf.location.rider"
                await nc.publish(subject, json.dumps(body).encode(), headers={"Nats-Msg-Id": eid})
                sent += 1
            await nc.flush()
            await asyncio.sleep(tick)
        await nc.flush()
        await nc.close()
        print(json.dumps({"sent": sent, "rate": sent / (time.monotonic() - start)}), flush=True)

    uvloop.run(main())


def run_loadgen(port: int, path: str, connections: int, seconds: float, warmup: float) -> None:
    """Async HTTP/1.1 keep-alive load generator; prints requests/s and latency percentiles as JSON."""
    import uvloop

    bodies = trip_bodies()
    requests = [(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(b)}\r\n\r\n").encode() + b for b in bodies]

    async def worker(k: int, stop_at: float, measure_from: float, lat: list[float], errors: list[int]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        i = k
        while True:
            t0 = time.perf_counter()
            if t0 >= stop_at:
                break
            writer.write(requests[i % len(requests)])
            i += 1
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
            await reader.readexactly(length)
            t1 = time.perf_counter()
            if t0 >= measure_from:
                lat.append(t1 - t0)
                if not head.startswith(b"HTTP/1.1 200"):
                    errors.append(1)
        writer.close()

    async def main() -> None:
        lat: list[float] = []
        errors: list[int] = []
        start = time.perf_counter()
        measure_from = start + warmup
        stop_at = measure_from + seconds
        await asyncio.gather(*(worker(k, stop_at, measure_from, lat, errors) for k in range(connections)))
        lat.sort()
        n = len(lat)
        print(json.dumps({"requests": n, "rps": n / seconds, "p50_ms": lat[n // 2] * 1000 if n else None,
                          "p99_ms": lat[int(n * 0.99)] * 1000 if n else None, "errors": len(errors)}), flush=True)

    uvloop.run(main())


# --- driver ---------------------------------------------------------------------------------------
def _wrk(port: int, path: str, connections: int, seconds: float, warmup: float, tmp: Path) -> dict:
    script = tmp / "quote.lua"
    bodies = trip_bodies()
    lua_bodies = ",\n".join("[[" + b.decode() + "]]" for b in bodies)
    script.write_text(f"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local bodies = {{ {lua_bodies} }}
local i = 0
request = function()
  i = i + 1
  return wrk.format(nil, nil, nil, bodies[(i % #bodies) + 1])
end
""")
    url = f"http://127.0.0.1:{port}{path}"
    if warmup:
        subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{max(1, int(warmup))}s", "-s", str(script), url],
                       capture_output=True, check=False)
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{int(seconds)}s", "--latency", "-s", str(script),
                          url], capture_output=True, text=True, check=True).stdout

    def ms(label: str) -> float:
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "p50_ms": ms("50"),
            "p99_ms": ms("99"), "requests": int(re.search(r"(\d+) requests in", out).group(1)),
            "errors": int(non2xx.group(1)) if non2xx else 0}


def drive(tool: str, port: int, path: str, connections: int, seconds: float, warmup: float, tmp: Path) -> dict:
    """Load one endpoint with wrk or the Python generator (in its own process)."""
    if tool == "wrk":
        return _wrk(port, path, connections, seconds, warmup, tmp)
    out = subprocess.run([sys.executable, __file__, "--role", "loadgen", "--port", str(port), "--path", path,
                          "--connections", str(connections), "--duration", str(seconds), "--warmup", str(warmup)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"not ready: {url}")


def _ingested(base: str) -> float:
    with urllib.request.urlopen(base + "/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith("eq_events_ingested_total{"))


def main() -> None:
    """Run the benchmark and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=20.0, help="seconds measured per phase")
    ap.add_argument("--warmup", type=float, default=2.0, help="seconds of load before measuring")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--events-per-s", type=float, default=10_000.0, help="background ingest rate")
    ap.add_argument("--tool", choices=("auto", "wrk", "python"), default="auto")
    ap.add_argument("--node-env", action="append", default=[], metavar="EQ_X=V",
                    help="extra setting for the node under test (repeatable), e.g. EQ_MARKET_BATCH_MAX=500")
    ap.add_argument("--role", choices=("main", "bare", "publisher", "loadgen"), default="main", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--path", default="/api/v1/pricing/estimate", help=argparse.SUPPRESS)
    ap.add_argument("--nats-url", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.role == "bare":
        return run_bare(args.port)
    if args.role == "publisher":
        return run_publisher(args.nats_url, args.events_per_s, args.duration)
    if args.role == "loadgen":
        return run_loadgen(args.port, args.path, args.connections, args.duration, args.warmup)

    from equilibrium_node.bus.embedded import find_binary

    tool = ("wrk" if shutil.which("wrk") else "python") if args.tool == "auto" else args.tool
    procs: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory(prefix="eq-bench-quote-") as tmpdir:
        tmp = Path(tmpdir)
        nats_port = free_port()
        nats_url = f"nats://127.0.0.1:{nats_port}"
        procs.append(subprocess.Popen([find_binary(), "-js", "-sd", str(tmp / "nats"), "-a", "127.0.0.1", "-p",
                                       str(nats_port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        try:
            node_port, bare_port = free_port(), free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith("EQ_")}
            env.update(EQ_NATS_URL=nats_url, EQ_HTTP=f"127.0.0.1:{node_port}", EQ_QUOTE_SECRET="bench-secret",
                       EQ_ADMIN_TOKEN="bench-admin", EQ_LOG_LEVEL="warning", EQ_DATA_DIR=str(tmp / "node"))
            env.update(item.split("=", 1) for item in args.node_env)
            node_log = (tmp / "node.log").open("wb")
            procs.append(subprocess.Popen([sys.executable, "-m", "equilibrium_node", "run"], env=env, cwd=ROOT,
                                          stdout=node_log, stderr=subprocess.STDOUT))
            procs.append(subprocess.Popen([sys.executable, __file__, "--role", "bare", "--port", str(bare_port)]))
            base = f"http://127.0.0.1:{node_port}"
            _wait_http(base + "/readyz")
            print(f"quote benchmark: tool={tool} connections={args.connections} duration={args.duration:g}s "
                  f"(+{args.warmup:g}s warm-up) background={args.events_per_s:g} events/s, cpus={os.cpu_count()}"
                  + (f", node env {' '.join(args.node_env)}" if args.node_env else ""),
                  flush=True)
            phase_s = 2 * (args.duration + args.warmup) + 10
            publisher = subprocess.Popen([sys.executable, __file__, "--role", "publisher", "--nats-url", nats_url,
                                          "--events-per-s", str(args.events_per_s), "--duration", str(phase_s)],
                                         stdout=subprocess.PIPE, text=True)
            procs.append(publisher)
            time.sleep(2.0)  # let the ingest reach its steady state
            ingested_before, t_before = _ingested(base), time.monotonic()
            print("  baseline (bare aiohttp handler, fixed JSON) ...", flush=True)
            bare = drive(tool, bare_port, args.path, args.connections, args.duration, args.warmup, tmp)
            print("  quote (POST /api/v1/pricing/estimate on the node) ...", flush=True)
            quote = drive(tool, node_port, args.path, args.connections, args.duration, args.warmup, tmp)
            ingest_rate = (_ingested(base) - ingested_before) / (time.monotonic() - t_before)
            publisher.terminate()
            published = publisher.communicate(timeout=10)[0].strip()
            ratio = quote["rps"] / bare["rps"] if bare["rps"] else 0.0
            print()
            print(f"{'':<34}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'non-200':>10}")
            print(f"{'baseline: bare aiohttp handler':<34}{bare['rps']:>10.0f}{bare['p50_ms']:>10.2f}"
                  f"{bare['p99_ms']:>10.2f}{bare['errors']:>10}")
            print(f"{'quote: POST estimate (node)':<34}{quote['rps']:>10.0f}{quote['p50_ms']:>10.2f}"
                  f"{quote['p99_ms']:>10.2f}{quote['errors']:>10}")
            print(f"ratio quote/baseline: {ratio:.2f} (goal >= 0.70); quote p99 {quote['p99_ms']:.1f} ms (goal < 25)")
            print(f"node ingest during the run: {ingest_rate:,.0f} events/s applied "
                  f"(publisher: {published or 'still running'})")
        finally:
            for proc in reversed(procs):
                if proc.poll() is None:
                    proc.terminate()
                    try:
                        proc.wait(10)
                    except subprocess.TimeoutExpired:
                        proc.kill()


if __name__ == "__main__":
    main()

"""Analytics: the zones endpoint over 60 days of 100 zones, against a full rescan of the streams.

1. Generates a history: ``--zones`` zones x ``--vehicle-types`` for ``--days`` days, one snapshot
   record per zone and vehicle type every ``--interval`` seconds (each record with its own ``ts``,
   realistic jitter), plus ``--audits`` audit records per zone and day, and publishes it into a fresh
   nats-server (core publishes, then checked against the stream counts).
2. Starts a node process on that server and measures the **rollup build**: from the process start
   until ``GET /api/v1/analytics/zones`` answers (every record of both streams folded in).
3. Times ``--queries`` requests each of ``/api/v1/analytics/zones?window=30d&order=inefficiency&limit=5``
   (and ``window=60d``, and two history charts) over HTTP: p50 / p99 / max.
4. Baseline, same run: what answering without rollups costs, a **full rescan** of both streams (ordered
   consumers, decode, aggregate per zone) for the same 30-day question, and checks that it ranks the
   same five zones as the endpoint.

``--smoke`` runs a small version in seconds. With the default snapshot interval of the node (60 s)
the stream holds five times the records of the default ``--interval 300``: build and rescan scale
with it, the endpoint does not (its work is hours x zones).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402
from nats.aio.client import Client  # noqa: E402
from nats.js import api  # noqa: E402

from equilibrium_node.__main__ import BUNDLED_CONFIG  # noqa: E402
from equilibrium_node.analytics.report import window_start  # noqa: E402
from equilibrium_node.bus.embedded import EmbeddedNatsServer  # noqa: E402
from equilibrium_node.bus.provision import provision  # noqa: E402
from equilibrium_node.messages import (  # noqa: E402
    AuditRecord,
    ZoneSnapshot,
    audit_record_decoder,
    zone_snapshot_decoder,
)
from equilibrium_node.settings import load_settings  # noqa: E402
from tests.support.nodeproc import TEST_ADMIN_TOKEN, NodeProcess, node_env  # noqa: E402
from tests.support.ports import free_port  # noqa: E402

DAY = 86_400
ADMIN = {"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}


def records(zones: int, vts: int, days: int, interval: int, audits: float, now: float, seed: int):
    """(subject, payload) of the generated history in time order, and the record counts."""
    rng = random.Random(seed)
    zone_ids = [f"zone_{i:03d}" for i in range(zones)]
    vt_names = ["standard", "xl", "premium", "green"][:vts]
    level = {z: 1.0 + 1.5 * rng.random() for z in zone_ids}
    conversion = {z: 0.05 + 0.6 * rng.random() for z in zone_ids}
    enc = msgspec.json.Encoder()
    start = int(now - days * DAY) // interval * interval
    p_audit = audits * interval / DAY
    for slot in range(start, int(now) - interval, interval):
        for z in zone_ids:
            for vt in vt_names:
                mean = max(1.0, level[z] + rng.gauss(0, 0.15))
                quotes = rng.randint(0, 12)
                accepts = sum(rng.random() < conversion[z] for _ in range(quotes))
                yield "snapshot", enc.encode(ZoneSnapshot(
                    z, vt, slot + rng.uniform(0, interval), float(interval), rng.randint(0, 40), rng.randint(0, 20),
                    round(rng.uniform(0, 30), 3), rng.randint(1, 30), round(mean, 4), round(mean + 0.5, 4), quotes,
                    accepts, 0))
            while rng.random() < p_audit:
                old = round(rng.uniform(1.0, 2.0), 1)
                step = rng.choice((-0.2, 0.3))
                yield "audit", enc.encode(AuditRecord(z, "8085809c", vt_names[0], old, old + step,
                                                      "rise:market" if step > 0 else "fall:market", 3.0, 7.0, "linear",
                                                      slot + rng.uniform(0, interval)))


async def publish_all(nc: Client, gen, region: str = "sf") -> dict[str, int]:
    subjects = {"snapshot": f"eq.{region}.snapshot.zone", "audit": f"eq.{region}.audit.pricing"}
    counts = {"snapshot": 0, "audit": 0}
    for i, (kind, payload) in enumerate(gen):
        await nc.publish(subjects[kind], payload)
        counts[kind] += 1
        if i % 20_000 == 19_999:
            await nc.flush(timeout=60)
    await nc.flush(timeout=60)
    return counts


async def wait_stored(js, expected: dict[str, int], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        snap = (await js.stream_info("EQ_SNAP_SF")).state.messages
        audit = (await js.stream_info("EQ_AUDIT_SF")).state.messages
        if (snap, audit) == (expected["snapshot"], expected["audit"]):
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"stored {snap}/{audit}, published {expected}: the server dropped messages")
        await asyncio.sleep(0.2)


async def rescan(js, since: float) -> tuple[list[str], int]:
    """The baseline: read both streams in full, aggregate per zone, rank by inefficiency (top 5)."""
    acc: dict[str, list[float]] = {}
    seen = 0

    async def read(stream: str, subject: str, fold) -> None:
        nonlocal seen
        done = asyncio.Event()

        async def on_msg(msg) -> None:
            nonlocal seen
            seen += 1
            fold(msg.data)
            if msg.metadata.num_pending == 0:
                done.set()

        sub = await js.subscribe(subject, stream=stream, cb=on_msg, ordered_consumer=True,
                                 deliver_policy=api.DeliverPolicy.ALL, pending_msgs_limit=-1, pending_bytes_limit=-1)
        await done.wait()
        await sub.unsubscribe()

    def fold_snapshot(raw: bytes) -> None:
        r = zone_snapshot_decoder.decode(raw)
        if r.ts >= since:
            a = acc.setdefault(r.zone_id, [0, 0.0, 0, 0, 0])
            a[0] += 1
            a[1] += r.mean_multiplier
            a[2] += r.quotes
            a[3] += r.accepts

    def fold_audit(raw: bytes) -> None:
        r = audit_record_decoder.decode(raw)
        if r.ts >= since and r.zone_id in acc:
            acc[r.zone_id][4] += 1

    await read("EQ_SNAP_SF", "eq.sf.snapshot.zone", fold_snapshot)
    await read("EQ_AUDIT_SF", "eq.sf.audit.pricing", fold_audit)
    scores = []
    for zone, (n, total, quotes, accepts, _events) in acc.items():
        if n and quotes:
            scores.append(((total / n - 1) * (1 - min(accepts / quotes, 1.0)), zone))
    scores.sort(key=lambda s: (-s[0], s[1]))
    return [z for _, z in scores[:5]], seen


def get(base: str, path: str) -> tuple[int, dict]:
    req = urllib.request.Request(base + path, headers=ADMIN)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def timed(base: str, path: str, n: int) -> dict[str, float]:
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        status, _ = get(base, path)
        samples.append(time.perf_counter() - t)
        assert status == 200, (path, status)
    samples.sort()
    return {"p50_ms": statistics.median(samples) * 1e3, "p99_ms": samples[int(0.99 * (n - 1))] * 1e3,
            "max_ms": samples[-1] * 1e3}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zones", type=int, default=100)
    parser.add_argument("--vehicle-types", type=int, default=1)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--interval", type=int, default=300, help="seconds between generated snapshots")
    parser.add_argument("--audits", type=float, default=20, help="audit records per zone and day")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--smoke", action="store_true", help="20 zones, 7 days, 10 queries")
    parser.add_argument("--workdir", help="keep the server's store and the logs here (default: a temporary "
                                          "directory, removed)")
    args = parser.parse_args()
    if args.smoke:
        args.zones, args.days, args.queries = 20, 7, 10
    now = time.time()
    with (contextlib.nullcontext(args.workdir) if args.workdir
          else tempfile.TemporaryDirectory(prefix="eq-bench-analytics-")) as tmp:
        server = EmbeddedNatsServer(Path(tmp) / "nats", port=0, name="eq-bench")
        url = await server.start()
        node = None
        try:
            nc = Client()
            await nc.connect(url, pending_size=256 * 1024 * 1024)
            js = nc.jetstream(timeout=30)
            await provision(js, load_settings(BUNDLED_CONFIG, env={}))
            t = time.perf_counter()
            counts = await publish_all(nc, records(args.zones, args.vehicle_types, args.days, args.interval,
                                                   args.audits, now, seed=11))
            await wait_stored(js, counts)
            publish_s = time.perf_counter() - t
            total = counts["snapshot"] + counts["audit"]
            print(f"history: {args.zones} zones x {args.vehicle_types} vehicle type(s) x {args.days} days, a snapshot "
                  f"every {args.interval} s: {counts['snapshot']:,} snapshot + {counts['audit']:,} audit records "
                  f"(generated and stored in {publish_s:.1f} s)")

            port = free_port()
            node = NodeProcess(Path(tmp), env=node_env(Path(tmp) / "node", port, EQ_NATS_URL=url,
                                                       EQ_LOG_LEVEL="warning"), http_port=port)
            t = time.perf_counter()
            node.start()
            node.wait_ready(timeout=60)
            ready_s = time.perf_counter() - t
            while get(node.base_url, "/api/v1/analytics/zones?limit=1")[0] != 200:
                time.sleep(0.05)
            build_s = time.perf_counter() - t
            assert node.proc is not None
            print(f"rollup build (node start to first answer, both streams folded in): {build_s:.1f} s "
                  f"({total / max(build_s - ready_s, 1e-9):,.0f} records/s after the node was ready at "
                  f"{ready_s:.1f} s); node RSS {rss_mb(node.proc.pid):.0f} MB")

            queries = {
                "zones window=30d limit=5": "/api/v1/analytics/zones?window=30d&order=inefficiency&limit=5",
                "zones window=60d limit=100": "/api/v1/analytics/zones?window=60d&order=inefficiency&limit=100",
                "history 60 days, step 1h": f"/api/v1/analytics/zones/zone_000/history?from={now - 60 * DAY}"
                                            f"&to={now}&step=1h",
                "history 24 h, step 5m": "/api/v1/analytics/zones/zone_000/history?step=5m",
            }
            head = f"endpoint ({args.queries} sequential requests)"
            print(f"\n{head:<44} {'p50':>9} {'p99':>9} {'max':>9}")
            figures = {}
            for label, path in queries.items():
                figures[label] = f = timed(node.base_url, path, args.queries)
                print(f"{label:<44} {f['p50_ms']:7.1f}ms {f['p99_ms']:7.1f}ms {f['max_ms']:7.1f}ms")

            _, body = get(node.base_url, queries["zones window=30d limit=5"])
            t = time.perf_counter()
            top, seen = await rescan(js, window_start(time.time(), 30 * DAY))
            rescan_s = time.perf_counter() - t
            api_top = [z["zone_id"] for z in body["zones"]]
            p50 = figures["zones window=30d limit=5"]["p50_ms"] / 1e3
            print(f"\nbaseline: full rescan of both streams for the same 30-day question: {rescan_s:.2f} s "
                  f"({seen:,} records, {seen / rescan_s:,.0f} records/s)")
            print(f"endpoint p50 vs rescan: {rescan_s / p50:,.0f}x faster; same top 5: {top == api_top} {api_top}")
            if top != api_top:
                raise SystemExit("the rollup and the rescan disagree")
            await nc.close()
        finally:
            if node is not None and node.proc is not None:
                node.terminate()
            await server.stop()


if __name__ == "__main__":
    asyncio.run(main())

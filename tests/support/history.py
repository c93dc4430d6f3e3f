"""A generated pricing history for analytics tests and the analytics benchmark.

Snapshot records (:class:`ZoneSnapshot`) and audit records (:class:`AuditRecord`) with their own
``ts`` spread over N days before ``now``, every ``every_s`` per zone and vehicle type, at a random
second inside the interval (realistic, not aligned). Each zone has a profile (multiplier level,
conversion, surge rate) for the recent ``split_days`` and another one before, so a 30-day ranking
differs from a 60-day one. ``skip`` leaves instants out (tests keep records away from a window's
edge, which moves with the wall clock between two calls). :func:`expected_table` computes the zone
figures from the raw records in plain Python, independently of the node's rollup.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import msgspec

from equilibrium_node.messages import MSG_ID_HEADER, AuditRecord, ZoneSnapshot

DAY = 86_400


@dataclass
class Profile:
    """How a zone behaves in one period."""

    multiplier: float  # mean multiplier level
    conversion: float  # accept probability of a quote
    quotes: int  # mean quotes per record
    rises_per_day: float


@dataclass
class History:
    """Generated records, in time order."""

    snapshots: list[ZoneSnapshot] = field(default_factory=list)
    audits: list[AuditRecord] = field(default_factory=list)


def profiles(zones: list[str], rng: random.Random) -> dict[str, Profile]:
    """Distinct multiplier levels and conversions, shuffled over the zones."""
    n = len(zones)
    levels = [1.0 + 1.6 * i / max(1, n - 1) for i in range(n)]
    conversions = [0.05 + 0.6 * i / max(1, n - 1) for i in range(n)]
    rng.shuffle(levels)
    rng.shuffle(conversions)
    return {z: Profile(levels[i], conversions[i], rng.randint(3, 12), rng.uniform(2, 8)) for i, z in enumerate(zones)}


def generate(zones: list[str], *, now: float, days: int = 60, every_s: int = 3600, split_days: int = 30,
             vehicle_types: tuple[str, ...] = ("standard", "xl"), seed: int = 1,
             skip: Iterable[tuple[float, float]] = ()) -> History:
    """Records for ``days`` days before ``now`` (none in the ``skip`` ranges)."""
    rng = random.Random(seed)
    recent, older = profiles(zones, rng), profiles(zones, rng)
    skip = list(skip)
    out = History()
    start = int(now - days * DAY) // every_s * every_s
    for slot in range(start, int(now) - every_s, every_s):
        for zone in zones:
            profile = recent[zone] if slot >= now - split_days * DAY else older[zone]
            for vt in vehicle_types:
                ts = slot + rng.uniform(0, every_s)
                if ts >= now or any(lo <= ts <= hi for lo, hi in skip):
                    continue
                mean = max(1.0, rng.gauss(profile.multiplier, 0.15))
                quotes = rng.randint(0, 2 * profile.quotes)
                accepts = sum(rng.random() < profile.conversion for _ in range(quotes))
                out.snapshots.append(ZoneSnapshot(
                    zone, vt, round(ts, 3), float(every_s), rng.randint(0, 40), rng.randint(0, 20),
                    round(rng.uniform(0, 30), 3), rng.randint(1, 30), round(mean, 4),
                    round(mean + rng.uniform(0, 0.8), 4), quotes, accepts, 0))
            if rng.random() < profile.rises_per_day * every_s / DAY:
                ts = slot + rng.uniform(0, every_s)
                if ts < now and not any(lo <= ts <= hi for lo, hi in skip):
                    old = round(rng.uniform(1.0, 2.0), 1)
                    new = round(old + rng.choice((-0.3, 0.2, 0.5)), 1)
                    out.audits.append(AuditRecord(zone, "8085809c", rng.choice(vehicle_types), old, max(1.0, new),
                                                  "rise:market" if new > old else "fall:market", 3.0, 7.0, "linear",
                                                  round(ts, 3)))
    out.snapshots.sort(key=lambda r: r.ts)
    out.audits.sort(key=lambda r: r.ts)
    return out


def expected_table(history: History, since: float) -> list[dict]:
    """Zone figures over records with ``ts >= since``, worst inefficiency first (ties by zone id)."""
    acc: dict[str, dict] = {}
    for r in history.snapshots:
        if r.ts >= since:
            a = acc.setdefault(r.zone_id, {"n": 0, "sum": 0.0, "quotes": 0, "accepts": 0, "rises": 0, "falls": 0})
            a["n"] += 1
            a["sum"] += r.mean_multiplier
            a["quotes"] += r.quotes
            a["accepts"] += r.accepts
    for r in history.audits:
        if r.ts >= since and r.zone_id in acc and r.new_multiplier != r.old_multiplier:
            acc[r.zone_id]["rises" if r.new_multiplier > r.old_multiplier else "falls"] += 1
    rows = []
    for zone, a in acc.items():
        avg = a["sum"] / a["n"]
        conversion = a["accepts"] / a["quotes"] if a["quotes"] else None
        score = (avg - 1) * (1 - min(conversion, 1.0)) if conversion is not None else None
        rows.append({"zone_id": zone, "avg_multiplier": avg, "conversion": conversion, "inefficiency": score,
                     "quotes": a["quotes"], "accepts": a["accepts"], "surge_events": a["rises"],
                     "decrease_events": a["falls"], "snapshots": a["n"]})
    rows.sort(key=lambda r: (r["inefficiency"] is None, -(r["inefficiency"] or 0.0), r["zone_id"]))
    return rows


def encoded(history: History) -> Iterator[tuple[str, bytes, str]]:
    """(subject kind, payload, Nats-Msg-Id) of every record: snapshots first, then audits."""
    enc = msgspec.json.Encoder()
    for r in history.snapshots:
        yield "snapshot", enc.encode(r), f"{r.zone_id}.{r.vehicle_type}.{round(r.ts * 1000)}"
    for i, r in enumerate(history.audits):
        yield "audit", enc.encode(r), f"gen-audit-{i}-{round(r.ts * 1000)}"


async def publish_history(js, region: str, records: Iterable[tuple[str, bytes, str]], *, window: int = 2048) -> int:
    """Publish records to the region's snapshot / audit subjects (acked, pipelined); returns how many."""
    subjects = {"snapshot": f"eq.{region}.snapshot.zone", "audit": f"eq.{region}.audit.pricing"}
    futures = []
    count = 0
    for kind, payload, msg_id in records:
        futures.append(await js.publish_async(subjects[kind], payload, headers={MSG_ID_HEADER: msg_id}))
        count += 1
        if len(futures) >= window:
            await asyncio.gather(*futures)
            futures = []
    await asyncio.gather(*futures)
    return count

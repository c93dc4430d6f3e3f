"""Run as a script: 100k online drivers over 50k cells through the real decode + S2 + state path; print JSON.

Measured in its own process so the figure is the state's, not the test runner's: peak RSS (VmHWM) after
ingesting, after encoding a checkpoint, and the sizes before and after idle eviction.
"""

from __future__ import annotations

import json
import sys

import msgspec
import numpy as np

from equilibrium_node.geo import s2vec
from equilibrium_node.intake.decode import decode_batch
from equilibrium_node.market import snapshot
from equilibrium_node.market.state import MarketState
from equilibrium_node.settings import MarketSettings

encode = msgspec.json.Encoder().encode  # exact-size bytes (orjson's over-allocated buffers would inflate RSS)


def rss_mb(field: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def main(drivers: int = 100_000, cells: int = 50_000, riders: int = 20_000) -> dict:
    rng = np.random.default_rng(1)
    # enough random points in a ~300 x 300 km box around the Bay Area to find `cells` distinct cells
    lat = rng.uniform(36.4, 39.1, cells * 3)
    lng = rng.uniform(-123.9, -120.5, cells * 3)
    ids = s2vec.cell_ids(lat, lng, 13)
    _, first = np.unique(ids, return_index=True)
    pick = np.sort(first)[:cells]
    assert pick.size == cells
    plat, plng = lat[pick].tolist(), lng[pick].tolist()
    baseline = rss_mb("VmRSS")
    state = MarketState(MarketSettings())
    t0 = 1_800_000_000.0
    vts = frozenset({"standard", "xl", "premium"})
    batch = 5000
    events = []
    for i in range(drivers):
        k = i % cells
        events.append(("eq.sf.location.driver", encode({
            "event_id": f"evt-{i:09d}", "driver_id": f"driver-{i:07d}", "lat": plat[k], "lng": plng[k],
            "status": "available" if i % 5 else "on_trip", "vehicle_type": ("standard", "xl", "premium")[i % 3],
            "ts": t0 + i * 1e-4})))
    for i in range(riders):
        k = (i * 7) % cells
        events.append(("eq.sf.location.rider", encode({
            "event_id": f"sig-{i:09d}", "rider_id": f"rider-{i:07d}", "lat": plat[k], "lng": plng[k],
            "kind": ("app_open", "quote", "request")[i % 3], "vehicle_type": "standard", "ts": t0 + 10})))
    for start in range(0, len(events), batch):
        chunk = events[start:start + batch]
        seqs = list(range(start + 1, start + 1 + len(chunk)))
        ts_ns = [int((t0 + 10 + s * 1e-4) * 1e9) for s in seqs]
        out = decode_batch([c[0] for c in chunk], [c[1] for c in chunk], ts_ns,
                           driver_subject="eq.sf.location.driver", rider_subject="eq.sf.location.rider",
                           vehicle_types=vts, max_event_age_s=300.0)
        d, r = out.drivers, out.riders
        tokens = s2vec.lat_lng_tokens(d.lats + r.lats, d.lngs + r.lngs, 13)
        state.apply_pings(d.ids, tokens[:len(d)], d.vehicle_types, d.codes, d.lats, d.lngs, d.stream_ts, d.device_ts)
        state.apply_signals(r.ids, tokens[len(d):], r.vehicle_types, r.codes, r.stream_ts)
        state.commit_batch(seqs[-1], max(ts_ns) * 1e-9, messages=len(seqs), seq_sum=sum(seqs))
    del events, chunk, out
    online = state.sizes()
    supply = sum(c.available + c.on_trip for per in state.table.cells.values() for c in per.values())
    after_ingest = rss_mb("VmRSS")
    raw = snapshot.encode(state.snapshot())
    peak = rss_mb("VmHWM")
    # everyone falls silent: TTL expiry empties the cells, the idle sweep forgets the drivers
    state.advance(state.clock + 61)
    after_ttl = state.sizes()
    state.advance(state.clock + MarketSettings().driver_idle_evict_s + 61)
    state.advance(state.clock + 61)
    return {"baseline_mb": baseline, "after_ingest_mb": after_ingest, "peak_mb": peak, "checkpoint_bytes": len(raw),
            "online": online, "counted": supply, "after_ttl": after_ttl, "after_idle": state.sizes()}


if __name__ == "__main__":
    print(json.dumps(main(*(int(a) for a in sys.argv[1:]))))

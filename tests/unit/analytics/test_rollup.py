"""The rolled-up history: rings, windows, bucketing by the record's own time, rises and falls."""

from __future__ import annotations

import numpy as np

from equilibrium_node.analytics.rollup import (
    ACCEPTS,
    FALLS,
    MULT_MAX,
    MULT_SUM,
    QUOTES,
    RISES,
    SNAPSHOTS,
    BucketRing,
    ZoneRollup,
    combine,
)
from equilibrium_node.messages import AuditRecord, ZoneSnapshot

DAY = 86_400
NOW = 1_780_000_000.0 // 3600 * 3600 + 1800  # half past some hour


def snap(zone: str, ts: float, mean: float = 1.5, top: float = 2.0, quotes: int = 10, accepts: int = 4,
         vt: str = "standard", supply: int = 5) -> ZoneSnapshot:
    return ZoneSnapshot(zone, vt, ts, 60.0, supply, 1, 3.0, 4, mean, top, quotes, accepts, 0)


def audit(zone: str, ts: float, old: float, new: float, vt: str = "standard") -> AuditRecord:
    return AuditRecord(zone, "8085809c", vt, old, new, "rise:market" if new > old else "fall:market", 1, 2,
                       "linear", ts)


def test_ring_sums_maxes_and_forgets_what_leaves_the_span():
    ring = BucketRing(3600, 3 * 3600)  # 4 buckets
    ring.grow(1)
    ring.advance(10)
    values = np.zeros((2, 10))
    values[:, SNAPSHOTS] = 1
    values[:, MULT_MAX] = [2.0, 3.0]
    assert ring.add(np.array([0, 0]), np.array([10, 10]), values) == 0
    assert ring.add(np.array([0]), np.array([6]), values[:1]) == 1  # older than the span
    block = ring.window([0], 9, 10)
    assert block[0, 1, SNAPSHOTS] == 2 and block[0, 1, MULT_MAX] == 3.0 and block[0, 0, SNAPSHOTS] == 0
    ring.advance(13)  # bucket 10 is still held (oldest = 10)
    assert ring.window([0], 10, 10)[0, 0, SNAPSHOTS] == 2
    ring.advance(14)  # now it is gone, and its slot reused empty
    assert ring.window([0], 10, 14).sum() == 0
    ring.advance(100)  # a jump past the whole span clears everything
    assert ring.data.sum() == 0 and ring.oldest == 97


def test_combine_sums_but_takes_the_max_of_the_max():
    block = np.zeros((3, 10))
    block[:, SNAPSHOTS] = 1
    block[:, MULT_MAX] = [1.2, 2.5, 1.0]
    out = combine(block, axis=0)
    assert out[SNAPSHOTS] == 3 and out[MULT_MAX] == 2.5


def test_records_land_in_the_bucket_of_their_own_ts():
    rollup = ZoneRollup(60 * DAY, 2 * DAY, clock=lambda: NOW)
    rollup.add_snapshot(snap("soma", NOW - 10 * DAY, mean=1.5, top=2.0))
    rollup.add_snapshot(snap("soma", NOW - 10 * DAY + 60, mean=2.5, top=3.0))
    rollup.add_snapshot(snap("mission", NOW - 100))
    rollup.add_audit(audit("soma", NOW - 10 * DAY, 1.0, 1.5))
    rollup.add_audit(audit("soma", NOW - 10 * DAY, 1.5, 1.2))
    rollup.add_audit(audit("soma", NOW - 10 * DAY, 1.2, 1.2))  # no change: neither
    rollup.flush()
    row = rollup.keys[("soma", "standard")]
    bucket = rollup.hourly.bucket_of(NOW - 10 * DAY)
    v = rollup.hourly.window([row], bucket, bucket)[0, 0]
    assert v[SNAPSHOTS] == 2 and v[MULT_SUM] == 4.0 and v[MULT_MAX] == 3.0
    assert v[QUOTES] == 20 and v[ACCEPTS] == 8 and v[RISES] == 1 and v[FALLS] == 1
    # 10 days back is beyond the 2-day detail ring: only the hourly one holds it
    assert rollup.detail.window([row], rollup.detail.bucket_of(NOW - 10 * DAY),
                                rollup.detail.bucket_of(NOW - 10 * DAY)).sum() == 0
    mission = rollup.keys[("mission", "standard")]
    assert rollup.detail.window([mission], rollup.detail.bucket_of(NOW - 100),
                                rollup.detail.bucket_of(NOW - 100))[0, 0, SNAPSHOTS] == 1


def test_future_and_too_old_records_are_skipped_and_counted():
    told: list[tuple[str, int]] = []
    rollup = ZoneRollup(60 * DAY, 2 * DAY, clock=lambda: NOW, on_drop=lambda reason, n: told.append((reason, n)))
    rollup.add_snapshot(snap("soma", NOW + 2 * 3600))  # a bad clock must not push the rings forward
    rollup.add_snapshot(snap("soma", NOW - 61 * DAY))
    rollup.add_snapshot(snap("soma", NOW))
    rollup.flush()
    assert rollup.dropped == {"future": 1, "old": 1} and sorted(told) == [("future", 1), ("old", 1)]
    assert rollup.hourly.newest == rollup.hourly.bucket_of(NOW)
    assert rollup.hourly.data[..., SNAPSHOTS].sum() == 1


def test_time_moving_on_forgets_the_oldest_hours():
    now = [NOW]
    rollup = ZoneRollup(2 * 3600, 3600, clock=lambda: now[0])
    rollup.add_snapshot(snap("soma", NOW))
    rollup.flush()
    assert rollup.hourly.data[..., SNAPSHOTS].sum() == 1
    now[0] += 3 * 3600
    rollup.flush()
    assert rollup.hourly.data[..., SNAPSHOTS].sum() == 0


def test_automatic_flush_every_few_thousand_records():
    rollup = ZoneRollup(60 * DAY, 2 * DAY, clock=lambda: NOW)
    for i in range(5000):
        rollup.add_snapshot(snap(f"z{i % 7}", NOW - i * 60))
    assert rollup.pending == 5000 - 4096 and rollup.applied == 4096
    rollup.flush()
    assert rollup.applied == 5000 and rollup.hourly.data[..., SNAPSHOTS].sum() == 5000

"""TimeQueue: entries pop in time order once out of the window, also when times arrive out of order."""

from __future__ import annotations

import random

from equilibrium_node.market.expiry import TimeQueue


def test_pops_in_time_order_and_keeps_every_entry():
    queue = TimeQueue()
    for key, t in (("k0", 1.0), ("k1", 2.0), ("k2", 3.0), ("k0", 4.0)):
        queue.push(key, t)
    assert queue.pop_due(62.5, 60.0) == [("k0", 1.0), ("k1", 2.0)]  # lazy: k0's older entry pops too
    assert len(queue) == 2
    assert queue.pop_due(64.0, 60.0) == [("k2", 3.0), ("k0", 4.0)]
    assert len(queue) == 0


def test_out_of_order_times_still_expire_exactly():
    rng = random.Random(5)
    queue = TimeQueue()
    pending: list[tuple[str, float]] = []
    for i in range(3000):
        t = rng.uniform(0, 100) if rng.random() < 0.1 else 50 + i * 0.02  # 10% stragglers
        pending.append((f"k{i}", t))
        queue.push(f"k{i}", t)
    for now in (70.0, 90.0, 120.0, 200.0):
        due = sorted(queue.pop_due(now, 10.0))
        expect = sorted(e for e in pending if e[1] + 10.0 <= now)
        assert due == expect
        pending = [e for e in pending if e[1] + 10.0 > now]
    assert len(queue) == 0

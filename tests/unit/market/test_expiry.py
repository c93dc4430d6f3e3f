"""TimeOrder: keys pop in time order once out of the window, also when times arrive out of order."""

from __future__ import annotations

import random

from equilibrium_node.market.expiry import TimeOrder


def test_pops_in_time_order_and_touch_moves_a_key():
    order = TimeOrder()
    for i, t in enumerate([1.0, 2.0, 3.0]):
        order.touch(f"k{i}", t)
    order.touch("k0", 4.0)  # k0 is fresh again
    assert order.pop_due(62.5, 60.0) == [("k1", 2.0)]
    assert order.pop_due(64.0, 60.0) == [("k2", 3.0), ("k0", 4.0)]
    assert len(order) == 0


def test_out_of_order_times_still_expire_exactly():
    rng = random.Random(5)
    order = TimeOrder()
    times = {}
    for _ in range(2000):
        key = f"k{rng.randrange(300)}"
        t = rng.uniform(0, 100) if rng.random() < 0.1 else 50 + rng.random() * 60  # 10% stragglers
        times[key] = t
        order.touch(key, t)
        if rng.random() < 0.05:
            order.discard(key)
            times.pop(key)
    for now in (70.0, 90.0, 120.0, 200.0):
        due = dict(order.pop_due(now, 10.0))
        expect = {k: t for k, t in times.items() if t + 10.0 <= now}
        assert due == expect
        for k in expect:
            times.pop(k)
    assert len(order) == 0

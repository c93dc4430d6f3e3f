"""One batch per burst, about one per tick, no lasting delay after a late flush."""

from __future__ import annotations

import itertools

import pytest

from equilibrium_node.stream.batching import GRACE_TICKS, MIN_GAP_TICKS, QUIET_S, BatchClock


def _flushes(tick_s: float, changes: list[float], late: dict[int, float] | None = None) -> list[float]:
    """Flush times for changes at the given times (the hub's loop, in simulated time).

    ``late`` maps a flush's index to how much later than due it actually ran (a busy loop).
    """
    clock, flushes, pending, late = BatchClock(tick_s), [], False, late or {}
    for i, t in enumerate(changes):
        clock.changed(t, starts_batch=not pending)
        pending = True
        nxt = changes[i + 1] if i + 1 < len(changes) else float("inf")
        due = clock.due()
        if due < nxt:  # due before the next change arrives: flush
            flushes.append(due + late.get(len(flushes), 0.0))
            clock.flushed()
            pending = False
    return flushes


def test_each_leader_tick_is_one_batch_flushed_when_its_burst_is_over():
    bursts = [k + i * 0.002 for k in range(5) for i in range(30)]  # 30 writes in 60 ms, every second
    assert _flushes(1.0, bursts) == pytest.approx([k + 29 * 0.002 + QUIET_S for k in range(5)])


def test_a_steady_trickle_goes_out_at_most_every_three_quarters_of_a_tick():
    trickle = [i * 0.05 for i in range(41)]  # a change every 50 ms for 2 s
    flushes = _flushes(0.5, trickle)
    assert all(b - a >= 0.5 * MIN_GAP_TICKS - 1e-9 for a, b in itertools.pairwise(flushes))
    assert flushes[-1] >= trickle[-1]  # the last change is sent too


def test_the_tail_of_a_split_burst_joins_the_next_tick():
    first, tail = [0.0, 0.005, 0.01], [0.04, 0.045]  # a pause longer than QUIET_S inside tick 0
    ticks = [1.001, 1.005, 2.001, 2.005, 3.001, 3.005]
    assert _flushes(1.0, first + tail + ticks) == pytest.approx([0.01 + QUIET_S] + [k + 0.005 + QUIET_S
                                                                                     for k in (1, 2, 3)])


def test_a_tail_with_no_next_burst_goes_out_a_little_after_the_tick():
    flushes = _flushes(1.0, [0.0, 0.005, 0.04, 0.045])
    assert flushes == pytest.approx([0.005 + QUIET_S, 0.005 + QUIET_S + 1.0 + GRACE_TICKS])


def test_a_burst_longer_than_a_tick_and_a_late_flush_cause_no_lasting_delay():
    long_burst = [i * 0.01 for i in range(121)]  # 0.0 .. 1.2: cut at one tick
    flushes = _flushes(1.0, [*long_burst, 2.0, 3.0, 4.0])
    # the tail (from 1.01) goes out with tick 2, at most a tick after it started; then on time
    assert flushes == pytest.approx([1.0, 2.01, 3.0 + QUIET_S, 4.0 + QUIET_S])
    ticks = [k + 0.001 for k in range(6)]
    late = _flushes(1.0, ticks, late={1: 0.4})  # the loop was busy for 400 ms at tick 1
    assert late[2:] == pytest.approx([k + 0.001 + QUIET_S for k in (2, 3, 4, 5)])

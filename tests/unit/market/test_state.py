"""Market state policies: supply TTL, moves, statuses, out-of-order and late events, weights, sliding windows,
eviction, changed cells, and a restored state equal to one that never stopped."""

from __future__ import annotations

import random

import msgspec
import pytest

from equilibrium_node.errors import ConfigError
from equilibrium_node.market import snapshot
from equilibrium_node.market.state import MarketState
from equilibrium_node.settings import MarketSettings

AVAILABLE, ON_TRIP, OFFLINE = 0, 1, 2
APP_OPEN, QUOTE, REQUEST = 0, 1, 2


class Feed:
    """Applies events to a state as one-event batches with increasing sequence numbers."""

    def __init__(self, state: MarketState) -> None:
        self.state = state
        self.seq = 0

    def ping(self, driver: str, cell: str, status: int, t: float, *, dev: float | None = None, vt: str = "standard",
             lat: float = 37.0, lng: float = -122.0) -> int:
        self.seq += 1
        dropped = self.state.apply_pings([driver], [cell], [vt], [status], [lat], [lng], [t],
                                         [t if dev is None else dev])
        self.state.commit_batch(self.seq, t)
        return dropped

    def signal(self, rider: str, cell: str, kind: int, t: float, vt: str = "standard") -> None:
        self.seq += 1
        self.state.apply_signals([rider], [cell], [vt], [kind], [t])
        self.state.commit_batch(self.seq, t)


@pytest.fixture
def settings() -> MarketSettings:
    return MarketSettings()


@pytest.fixture
def feed(settings) -> Feed:
    return Feed(MarketState(settings, wall_clock=lambda: 0.0))


def stats(state: MarketState, cell: str, at: float, vt: str = "standard"):
    return state.cell_stats(cell, vt, at)


def test_supply_counts_fresh_available_drivers_until_the_ttl(feed):
    feed.ping("d1", "A", AVAILABLE, 100.0)
    feed.ping("d2", "A", AVAILABLE, 110.0)
    assert stats(feed.state, "A", 110.0).supply == 2
    assert stats(feed.state, "A", 159.999).supply == 2
    assert stats(feed.state, "A", 160.0).supply == 1  # d1's latest ping is now 60 s old
    assert stats(feed.state, "A", 170.0).supply == 0
    assert "A" not in feed.state.table.cells  # an empty cell is evicted


def test_a_moving_driver_updates_both_cells_and_counts_once(feed):
    feed.ping("d1", "A", AVAILABLE, 100.0)
    _, version = feed.state.changed_since(0)
    feed.ping("d1", "B", AVAILABLE, 104.0)
    assert stats(feed.state, "A", 104.0).supply == 0
    assert stats(feed.state, "B", 104.0).supply == 1
    changed, _ = feed.state.changed_since(version)
    assert changed == {"A", "B"}
    info = feed.state.driver("d1")
    assert info is not None and info.cell == "B" and info.status == "available" and info.ts == 104.0


def test_on_trip_and_offline_leave_supply_on_trip_is_counted(feed):
    feed.ping("d1", "A", AVAILABLE, 100.0)
    feed.ping("d1", "A", ON_TRIP, 101.0)
    s = stats(feed.state, "A", 101.0)
    assert (s.supply, s.on_trip) == (0, 1)
    feed.ping("d1", "A", OFFLINE, 102.0)
    s = stats(feed.state, "A", 102.0)
    assert (s.supply, s.on_trip) == (0, 0)
    assert feed.state.driver("d1").status == "offline"  # still known, not counted


def test_vehicle_type_change_moves_the_count(feed):
    feed.ping("d1", "A", AVAILABLE, 100.0, vt="standard")
    feed.ping("d1", "A", AVAILABLE, 101.0, vt="xl")
    assert stats(feed.state, "A", 101.0, "standard").supply == 0
    assert stats(feed.state, "A", 101.0, "xl").supply == 1


def test_out_of_order_driver_pings_are_dropped_by_device_time(feed):
    feed.ping("d1", "A", ON_TRIP, 100.0, dev=100.0)
    # a delayed "available" sent before the "on_trip" arrives later: dropped
    assert feed.ping("d1", "B", AVAILABLE, 101.0, dev=99.0) == 1
    s = stats(feed.state, "A", 101.0)
    assert (s.supply, s.on_trip) == (0, 1)
    assert feed.state.driver("d1").cell == "A"
    # a tie is applied (stream order decides)
    assert feed.ping("d1", "B", AVAILABLE, 102.0, dev=100.0) == 0
    assert stats(feed.state, "B", 102.0).supply == 1


def test_a_device_clock_ahead_does_not_block_later_pings(feed):
    feed.ping("d1", "A", AVAILABLE, 100.0, dev=5000.0)  # phone clock an hour ahead
    assert feed.ping("d1", "B", AVAILABLE, 104.0, dev=104.0) == 0  # clock fixed: still newer
    assert feed.state.driver("d1").cell == "B"


def test_freshness_uses_stream_time_not_device_time(feed):
    feed.ping("d1", "A", AVAILABLE, 100.0, dev=50.0)  # device 50 s behind (not too old)
    assert stats(feed.state, "A", 159.0).supply == 1
    assert stats(feed.state, "A", 160.0).supply == 0


def test_demand_weights_distinct_riders_by_their_strongest_signal(feed, settings):
    feed.signal("r1", "A", APP_OPEN, 100.0)
    feed.signal("r1", "A", QUOTE, 101.0)
    feed.signal("r1", "A", REQUEST, 102.0)
    feed.signal("r1", "A", APP_OPEN, 103.0)  # the same rider again: still one rider
    feed.signal("r2", "A", QUOTE, 104.0)
    s = stats(feed.state, "A", 104.0)
    assert s.demand_1m == settings.weight_request + settings.weight_quote
    assert s.demand_5m == s.demand_1m


def test_weights_come_from_the_settings():
    settings = MarketSettings(weight_request=10.0, weight_quote=2.0, weight_app_open=0.5)
    feed = Feed(MarketState(settings))
    feed.signal("r1", "A", APP_OPEN, 100.0)
    feed.signal("r2", "A", REQUEST, 100.0)
    feed.signal("r3", "A", QUOTE, 100.0)
    assert stats(feed.state, "A", 100.0).demand_1m == 12.5


def test_windows_slide_one_and_five_minutes(feed, settings):
    feed.signal("r1", "A", REQUEST, 100.0)
    feed.signal("r1", "A", APP_OPEN, 150.0)
    assert stats(feed.state, "A", 159.9).demand_1m == settings.weight_request
    s = stats(feed.state, "A", 160.0)  # the request left the 1-minute window, the app open did not
    assert (s.demand_1m, s.demand_5m) == (settings.weight_app_open, settings.weight_request)
    s = stats(feed.state, "A", 210.0)
    assert (s.demand_1m, s.demand_5m) == (0.0, settings.weight_request)
    s = stats(feed.state, "A", 400.0)  # request at 100 left the 5 minutes
    assert (s.demand_1m, s.demand_5m) == (0.0, settings.weight_app_open)
    assert stats(feed.state, "A", 450.0).demand_5m == 0.0
    assert feed.state.demand.records == {}
    assert "A" not in feed.state.table.cells


def test_late_stream_timestamps_only_enter_windows_they_still_fall_in(feed):
    feed.signal("r0", "B", APP_OPEN, 1000.0)  # the clock is at 1000
    feed.signal("r1", "A", REQUEST, 800.0)  # stream time stepped back: outside the minute, inside 5 min
    s = stats(feed.state, "A", 1000.0)
    assert (s.demand_1m, s.demand_5m) == (0.0, 3.0)
    feed.signal("r2", "A", REQUEST, 600.0)  # outside both windows: no effect
    assert stats(feed.state, "A", 1000.0).demand_5m == 3.0
    feed.ping("d1", "A", AVAILABLE, 900.0)  # older than the TTL: recorded, not counted
    assert stats(feed.state, "A", 1000.0).supply == 0 and feed.state.driver("d1") is not None
    assert feed.state.clock == 1000.0  # the clock never goes back


def test_idle_drivers_and_their_empty_cells_are_evicted(settings):
    feed = Feed(MarketState(settings))
    for i in range(50):
        feed.ping(f"d{i}", f"c{i}", OFFLINE if i % 2 else AVAILABLE, 100.0)
    assert len(feed.state.supply.drivers) == 50
    feed.ping("late", "z", AVAILABLE, 100.0 + settings.driver_idle_evict_s + 61)
    assert set(feed.state.supply.drivers) == {"late"}
    assert set(feed.state.table.cells) == {"z"}
    assert feed.state.driver("d0") is None


def test_idle_eviction_must_outlast_the_supply_ttl():
    with pytest.raises(ConfigError):
        MarketState(MarketSettings(supply_ttl_s=60.0, driver_idle_evict_s=30.0))


def test_changed_since_and_arrays(feed):
    feed.ping("d1", "A", AVAILABLE, 100.0)
    feed.signal("r1", "B", QUOTE, 100.0)
    cells, version = feed.state.changed_since(0)
    assert cells == {"A", "B"}
    assert feed.state.changed_since(version)[0] == set()
    arrays = feed.state.cell_arrays(["A", "B", "C"], "standard", 100.0)
    assert arrays.supply.tolist() == [1.0, 0.0, 0.0]
    assert arrays.demand_5m.tolist() == [0.0, 1.5, 0.0]
    stats(feed.state, "A", 200.0)  # supply and the 1-minute demand expired: both cells changed
    assert feed.state.changed_since(version)[0] == {"A", "B"}
    assert list(feed.state.active_cells()) == ["B"]  # B still has demand in the 5 minutes, A was evicted
    _, version = feed.state.changed_since(version)
    stats(feed.state, "B", 400.0)
    assert feed.state.changed_since(version)[0] == {"B"}
    assert list(feed.state.active_cells()) == []


def test_now_is_stream_time_until_caught_up_then_wall_clock():
    state = MarketState(MarketSettings(), wall_clock=lambda: 5000.0)
    Feed(state).ping("d1", "A", AVAILABLE, 100.0)
    assert state.now() == 100.0
    state.caught_up = True
    assert state.now() == 5000.0
    assert state.cell_stats("A", "standard").supply == 0  # evaluated at the wall clock


def random_events(seed: int, n: int) -> list[tuple]:
    rng = random.Random(seed)
    t = 1000.0
    events = []
    for _ in range(n):
        t += rng.expovariate(2.0)  # ~2 events per second of stream time
        ts = t - 30 if rng.random() < 0.03 else t  # a few stream timestamps stepping back
        if rng.random() < 0.6:
            events.append(("ping", f"d{rng.randrange(60)}", f"c{rng.randrange(12)}",
                           rng.choices((AVAILABLE, ON_TRIP, OFFLINE), (0.7, 0.2, 0.1))[0], ts,
                           ts - rng.uniform(0, 20), rng.choice(("standard", "xl"))))
        else:
            events.append(("signal", f"r{rng.randrange(80)}", f"c{rng.randrange(12)}", rng.randrange(3), ts,
                           rng.choice(("standard", "xl"))))
    return events


def apply_all(state: MarketState, events: list[tuple], start_seq: int, rng: random.Random | None = None,
              wall_advance: bool = False) -> None:
    """Apply events in random-size batches; optionally advance to 'wall' times between batches."""
    i, seq = 0, start_seq
    rng = rng or random.Random(0)
    while i < len(events):
        chunk = events[i:i + rng.randint(1, 25)]
        i += len(chunk)
        pings = [e for e in chunk if e[0] == "ping"]
        sigs = [e for e in chunk if e[0] == "signal"]
        state.apply_pings([e[1] for e in pings], [e[2] for e in pings], [e[6] for e in pings],
                          [e[3] for e in pings], [1.0] * len(pings), [2.0] * len(pings), [e[4] for e in pings],
                          [e[5] for e in pings])
        state.apply_signals([e[1] for e in sigs], [e[2] for e in sigs], [e[5] for e in sigs], [e[3] for e in sigs],
                            [e[4] for e in sigs])
        seq += len(chunk)
        state.commit_batch(seq, max(e[4] for e in chunk))
        if wall_advance and rng.random() < 0.3:
            state.advance(state.clock + rng.uniform(0, 3))  # the wall clock a little ahead of the stream


@pytest.mark.parametrize("seed", range(6))
def test_state_is_a_function_of_events_and_clock(seed, settings):
    events = random_events(seed, 1500)
    plain = MarketState(settings)
    apply_all(plain, events, 0, random.Random(seed))
    advanced = MarketState(settings)
    apply_all(advanced, events, 0, random.Random(seed + 100), wall_advance=True)
    end = max(plain.clock, advanced.clock) + 1
    plain.advance(end)
    advanced.advance(end)
    assert plain.canonical() == advanced.canonical()


@pytest.mark.parametrize("seed", range(6))
def test_restored_state_equals_the_uninterrupted_one(seed, settings):
    events = random_events(seed, 1500)
    cut = random.Random(seed).randrange(100, 1400)
    straight = MarketState(settings)
    apply_all(straight, events, 0)
    first = MarketState(settings)
    apply_all(first, events[:cut], 0)
    raw = snapshot.encode(first.snapshot())
    restored = MarketState(settings)
    restored.restore(snapshot.decode(raw))
    assert restored.canonical() == first.canonical()
    apply_all(restored, events[cut:], cut, random.Random(seed + 7), wall_advance=True)
    end = max(straight.clock, restored.clock) + 5
    straight.advance(end)
    restored.advance(end)
    assert restored.applied_seq == straight.applied_seq == len(events)
    assert restored.canonical() == straight.canonical()
    for cell in straight.table.cells:
        assert straight.cell_detail(cell) == restored.cell_detail(cell)


def test_snapshot_rejects_foreign_bytes():
    with pytest.raises(snapshot.SnapshotError):
        snapshot.decode(b"not msgpack at all")
    with pytest.raises(snapshot.SnapshotError):
        snapshot.decode(msgspec.msgpack.encode([99, 1, 0.0, [], []]))


def test_reset_is_a_fresh_state():
    settings = MarketSettings()
    state = MarketState(settings)
    feed = Feed(state)
    feed.ping("d1", "8085809c", AVAILABLE, 1000.0)
    feed.signal("r1", "8085809c", REQUEST, 1001.0)
    state.caught_up = True
    state.reset()
    fresh = MarketState(settings)
    assert state.canonical() == fresh.canonical()
    assert state.applied_seq == 0 and not state.caught_up and list(state.active_cells()) == []
    feed.seq = 0
    feed.ping("d2", "8085809c", AVAILABLE, 2000.0)  # usable again from sequence 1
    assert state.applied_seq == 1 and state.cell_stats("8085809c", "standard").supply == 1

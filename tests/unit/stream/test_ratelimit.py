"""Token bucket and flood episodes, on explicit times."""

from __future__ import annotations

from equilibrium_node.stream.ratelimit import FloodGuard, TokenBucket, Verdict


def test_bucket_spends_and_refills():
    bucket = TokenBucket(3, 2.0, now=0.0)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.take(0.5)  # one token back after half a second at 2/s
    assert not bucket.take(0.5)
    bucket.refill(100.0)
    assert bucket.tokens == 3 and bucket.full


def test_flood_warns_once_then_drops_then_closes():
    guard = FloodGuard(0.0, burst=5, rate_per_s=1.0, close_after=10)
    verdicts = [guard.check(0.0) for _ in range(5 + 10)]
    assert verdicts[:5] == [Verdict.ACCEPT] * 5
    assert verdicts[5] is Verdict.WARN
    assert verdicts[6:14] == [Verdict.DROP] * 8
    assert verdicts[14] is Verdict.CLOSE


def test_a_quiet_client_starts_a_new_episode():
    guard = FloodGuard(0.0, burst=2, rate_per_s=1.0, close_after=100)
    assert [guard.check(0.0) for _ in range(3)] == [Verdict.ACCEPT, Verdict.ACCEPT, Verdict.WARN]
    assert guard.check(1.0) is Verdict.ACCEPT  # a token came back, still the same flood
    assert guard.check(1.0) is Verdict.DROP  # no second warning within one flood
    assert guard.check(10.0) is Verdict.ACCEPT  # quiet long enough: the flood is over
    assert guard.check(10.0) is Verdict.ACCEPT
    assert guard.check(10.0) is Verdict.WARN  # a new flood gets a new warning

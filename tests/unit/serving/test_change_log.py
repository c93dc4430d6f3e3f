"""The resume ring: keys changed since a revision, the floor when it forgets."""

from __future__ import annotations

from equilibrium_node.serving.change_log import ChangeLog


def test_since_lists_keys_newer_than_the_revision_newest_first():
    log = ChangeLog(10)
    for rev, key in enumerate(["a", "b", "c", "a", "d"], start=1):
        log.record(key, rev)
    assert log.since(5) == []
    assert log.since(3) == ["d", "a"]
    assert log.since(0) == ["d", "a", "c", "b"]
    assert log.since(6) is None  # from the future: unknown


def test_forgetting_raises_the_floor():
    log = ChangeLog(2)
    log.record("a", 1)
    log.record("b", 2)
    log.record("c", 3)  # "a" is forgotten
    assert log.floor == 1 and len(log) == 2
    assert log.since(0) is None  # a client at 0 may have missed "a"
    assert log.since(1) == ["c", "b"]
    log.record("b", 4)  # re-changing a key keeps one entry for it
    assert log.since(2) == ["b", "c"] and len(log) == 2


def test_out_of_order_revisions_fall_back_to_a_full_scan():
    log = ChangeLog(10)
    log.record("a", 5)
    log.record("b", 3)
    assert sorted(log.since(2)) == ["a", "b"] and log.since(4) == ["a"]


def test_zero_capacity_never_resumes():
    log = ChangeLog(0)
    log.record("a", 7)
    assert log.since(6) is None and log.since(7) == []

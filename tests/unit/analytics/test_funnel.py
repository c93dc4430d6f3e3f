"""The quote funnel tells the API's quotes and accepts from rider apps' own signals."""

from __future__ import annotations

import os

from equilibrium_node.analytics.funnel import ACCEPT, QUOTE, FunnelCounts, classify
from equilibrium_node.quotes.demand import accept_event_id, quote_event_id
from equilibrium_node.quotes.quoter import NONCE_BYTES


def test_only_the_apis_event_ids_are_funnel_steps():
    nonce = os.urandom(NONCE_BYTES)
    assert classify("quote", quote_event_id(nonce)) == QUOTE
    assert classify("request", accept_event_id(nonce)) == ACCEPT
    # raw app signals: their own ids, or our forms with the wrong kind or a wrong nonce length
    assert classify("request", "evt-123") is None
    assert classify("quote", "8a1b-app-quote") is None
    assert classify("request", quote_event_id(nonce)) is None
    assert classify("quote", accept_event_id(nonce)) is None
    assert classify("app_open", quote_event_id(nonce)) is None
    assert classify("request", "r-" + "ab" * (NONCE_BYTES + 1)) is None
    assert classify("request", "r-" + "AB" * NONCE_BYTES) is None


def test_counts_take_and_restore():
    counts = FunnelCounts(seq=10)
    counts.add("soma", "standard", QUOTE)
    counts.add("soma", "standard", QUOTE)
    counts.add("soma", "standard", ACCEPT)
    counts.add("mission", "xl", QUOTE, 5)
    counts.seq = 42
    taken, seq = counts.take()
    assert taken == {("soma", "standard"): (2, 1), ("mission", "xl"): (5, 0)} and seq == 42
    assert counts.take() == ({}, 42)
    counts.restore(taken)
    counts.add("soma", "standard", ACCEPT)
    assert counts.take()[0] == {("soma", "standard"): (2, 2), ("mission", "xl"): (5, 0)}

"""Rider quotes: signed quote ids, the quote calculation, the exactly-once accept ledger, demand signals."""

"""How a NATS KV bucket looks on the wire: the headers and error codes the node reads and writes directly.

Several parts of the node bypass nats-py's ``KeyValue`` methods on purpose (the surge mirror's watch,
the leader lease's compare-and-set with a raw publish, the fenced checkpoints), because of the KV
expiry-marker bugs of nats-py 2.16 (see the streaming notes, §1.3). They all classify and write KV
messages with the names kept here.
"""

from __future__ import annotations

from collections.abc import Mapping

#: ``DEL`` (a delete tombstone) or ``PURGE`` (a purge tombstone) on a KV message
KV_OPERATION = "KV-Operation"
#: set by the server on the marker it leaves when a message expires or is removed (limit markers)
MARKER_REASON = "Nats-Marker-Reason"
#: compare-and-set: the publish is refused unless the subject's last sequence is this one
EXPECTED_LAST = "Nats-Expected-Last-Subject-Sequence"
#: JetStream error codes of a failed ``Nats-Expected-Last-Subject-Sequence`` check
WRONG_LAST_SEQUENCE = (10071, 10164)


def is_removal(headers: Mapping[str, str] | None) -> bool:
    """True when a KV message says its key is gone: a delete or purge tombstone, or an expiry marker."""
    if not headers:
        return False
    return headers.get(KV_OPERATION) in ("DEL", "PURGE") or MARKER_REASON in headers


__all__ = ["EXPECTED_LAST", "KV_OPERATION", "MARKER_REASON", "WRONG_LAST_SEQUENCE", "is_removal"]

"""The accept ledger: KV ``eq_<region>_quotes``, one key per accepted quote, written with ``create``.

``create`` succeeds for exactly one writer per key across every node of the region (JetStream
checks the subject's last sequence atomically), which is what makes an accept exactly-once. The
bucket's max age is ``quote.ttl_s + 60 s`` (provisioning), so an entry outlives its quote, after
which the quote's own expiry rejects it anyway. Without NATS nothing can be promised: every call
here fails fast with :class:`LedgerUnavailable` (the API answers 503) instead of waiting.
"""

from __future__ import annotations

import asyncio

import msgspec
from nats.aio.client import Client
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue


class Acceptance(msgspec.Struct, frozen=True):
    """The ledger value of an accepted quote."""

    node_id: str
    accepted_at: float  # epoch seconds
    user_id: str


class LedgerUnavailable(Exception):
    """NATS is unreachable or did not answer in time."""


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Acceptance)


class AcceptLedger:
    """Exactly-once accept records of one region."""

    def __init__(self, nc: Client, kv: KeyValue, node_id: str, timeout_s: float = 2.0) -> None:
        self.nc = nc
        self.kv = kv
        self.node_id = node_id
        self.timeout_s = timeout_s

    def _check(self) -> None:
        if not self.nc.is_connected:
            raise LedgerUnavailable("NATS is not connected")

    async def accept(self, key: str, user_id: str, now_s: float) -> Acceptance | None:
        """Record an accept; the :class:`Acceptance` when this call won, None when the key already existed."""
        self._check()
        record = Acceptance(node_id=self.node_id, accepted_at=now_s, user_id=user_id)
        try:
            await asyncio.wait_for(self.kv.create(key, _encoder.encode(record)), self.timeout_s)
        except KeyWrongLastSequenceError:
            return None
        except (TimeoutError, OSError) as exc:
            raise LedgerUnavailable(f"{type(exc).__name__}: {exc}") from None
        except Exception as exc:  # nats-py: NoRespondersError, ConnectionClosedError, ... while NATS is away
            if "wrong last sequence" in str(exc).lower():
                return None
            raise LedgerUnavailable(f"{type(exc).__name__}: {exc}") from None
        return record

    async def lookup(self, key: str) -> Acceptance | None:
        """The acceptance of a quote, or None when it has not been accepted."""
        self._check()
        try:
            entry = await asyncio.wait_for(self.kv.get(key), self.timeout_s)
        except KeyNotFoundError:
            return None
        except Exception as exc:
            raise LedgerUnavailable(f"{type(exc).__name__}: {exc}") from None
        if entry.value is None:
            return None
        try:
            return _decoder.decode(entry.value)
        except (msgspec.DecodeError, msgspec.ValidationError):
            # someone else's bytes under our key: the quote is used all the same
            return Acceptance(node_id="", accepted_at=0.0, user_id="")


__all__ = ["AcceptLedger", "Acceptance", "LedgerUnavailable"]

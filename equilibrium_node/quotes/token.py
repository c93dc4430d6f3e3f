"""Self-verifying quote ids: the quote's terms, signed with the region's secret (HMAC-SHA256).

A quote id is ``q1.<claims>.<signature>`` in base64url (no padding): ``claims`` is the msgpack array
of :class:`QuoteClaims` (price, vehicle type, pickup and dropoff cells, expiry, a random nonce and
the rest of what the rider was shown), ``signature`` is HMAC-SHA256 over ``q1.<claims>`` with
``quote.secret``. Any node of the region verifies an id with no lookup and no shared state; the
nonce makes two quotes of the same terms distinct (each can be accepted once).

:func:`QuoteSigner.verify` classifies an id as ``valid`` (signature matches), ``tampered`` (well
formed, but the signature does not match: edited claims, or a different secret) or ``unknown``
(not a quote id of this format, or signed for another region).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Literal, NamedTuple

import msgspec

VERSION = "q1"
_PREFIX = VERSION + "."
SIGNATURE_BYTES = 32
#: Longest id :func:`QuoteSigner.verify` looks at; anything longer is ``unknown`` without decoding.
MAX_ID_CHARS = 512


class QuoteClaims(msgspec.Struct, frozen=True, array_like=True):
    """What a quote promises, as signed into its id (field order is the wire format: append only)."""

    region: str
    vehicle_type: str
    pickup_cell: str
    dropoff_cell: str
    zone_id: str
    base_cents: int
    final_cents: int
    multiplier: float
    currency: str
    distance_km: float
    duration_min: float
    issued_ms: int
    expires_ms: int
    user_id: str
    degraded: bool
    nonce: bytes


Verdict = Literal["valid", "tampered", "unknown"]


class Verified(NamedTuple):
    """Outcome of :meth:`QuoteSigner.verify`: the verdict, the claims when valid, the ledger key."""

    verdict: Verdict
    claims: QuoteClaims | None
    key: str  # hex of the first 16 signature bytes: the accept-ledger key ("" unless valid)


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(QuoteClaims)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def ledger_key(signature: bytes) -> str:
    """KV key of a quote in the accept ledger (unique per quote: the signature covers the nonce)."""
    return signature[:16].hex()


class QuoteSigner:
    """Signs and verifies the quote ids of one region."""

    def __init__(self, secret: str, region: str) -> None:
        if not secret:
            raise ValueError("a quote secret is required")
        self._key = secret.encode()
        self.region = region

    def _mac(self, signed: bytes) -> bytes:
        return hmac.digest(self._key, signed, hashlib.sha256)

    def sign(self, claims: QuoteClaims) -> tuple[str, str]:
        """The quote id of ``claims`` and its ledger key."""
        signed = _PREFIX + _b64(_encoder.encode(claims))
        signature = self._mac(signed.encode("ascii"))
        return f"{signed}.{_b64(signature)}", ledger_key(signature)

    def verify(self, quote_id: str) -> Verified:
        """Check an id's format and signature; see the module doc for the verdicts."""
        if len(quote_id) > MAX_ID_CHARS or not quote_id.startswith(_PREFIX) or not quote_id.isascii():
            return Verified("unknown", None, "")
        signed, dot, sig_text = quote_id.rpartition(".")
        if not dot or signed == VERSION or "." in signed[len(_PREFIX):]:
            return Verified("unknown", None, "")
        try:
            signature = _unb64(sig_text)
            payload = _unb64(signed[len(_PREFIX):])
        except (binascii.Error, ValueError):
            return Verified("unknown", None, "")
        if len(signature) != SIGNATURE_BYTES:
            return Verified("unknown", None, "")
        if not hmac.compare_digest(signature, self._mac(signed.encode("ascii"))):
            return Verified("tampered", None, "")
        try:
            claims = _decoder.decode(payload)
        except (msgspec.DecodeError, msgspec.ValidationError):
            # signed by someone holding the secret, yet not our format: treat as not ours
            return Verified("unknown", None, "")
        if claims.region != self.region:
            return Verified("unknown", None, "")
        return Verified("valid", claims, ledger_key(signature))


__all__ = ["MAX_ID_CHARS", "VERSION", "QuoteClaims", "QuoteSigner", "Verdict", "Verified", "ledger_key"]

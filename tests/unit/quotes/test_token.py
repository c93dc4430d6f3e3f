"""Self-verifying quote ids: round trip, tampering, foreign and malformed ids."""

from __future__ import annotations

import base64

import pytest

from equilibrium_node.quotes.token import QuoteClaims, QuoteSigner


def _claims(**over) -> QuoteClaims:
    base = dict(region="sf", vehicle_type="standard", pickup_cell="8085809c", dropoff_cell="80858064",
                zone_id="soma", base_cents=850, final_cents=1105, multiplier=1.3, currency="USD", distance_km=3.2,
                duration_min=9.5, issued_ms=1_700_000_000_000, expires_ms=1_700_000_120_000, user_id="u1",
                degraded=False, nonce=b"\x01" * 12)
    base.update(over)
    return QuoteClaims(**base)


def test_round_trip():
    signer = QuoteSigner("secret", "sf")
    quote_id, key = signer.sign(_claims())
    verified = signer.verify(quote_id)
    assert verified.verdict == "valid" and verified.claims == _claims() and verified.key == key
    assert quote_id.startswith("q1.") and len(key) == 32
    # ids are URL-safe
    assert all(ch.isalnum() or ch in "._-" for ch in quote_id)


def test_another_node_with_the_same_secret_verifies():
    quote_id, _ = QuoteSigner("secret", "sf").sign(_claims())
    assert QuoteSigner("secret", "sf").verify(quote_id).verdict == "valid"


def test_nonce_makes_ids_and_ledger_keys_distinct():
    signer = QuoteSigner("secret", "sf")
    a = signer.sign(_claims(nonce=b"\x01" * 12))
    b = signer.sign(_claims(nonce=b"\x02" * 12))
    assert a[0] != b[0] and a[1] != b[1]


def test_edited_price_is_tampered():
    signer = QuoteSigner("secret", "sf")
    quote_id, _ = signer.sign(_claims())
    _, payload, sig = quote_id.split(".")
    cheaper, _ = signer.sign(_claims(final_cents=1))
    forged = f"q1.{cheaper.split('.')[1]}.{sig}"
    assert signer.verify(forged).verdict == "tampered"
    raw = bytearray(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    raw[-1] ^= 0xFF
    flipped = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    assert signer.verify(f"q1.{flipped}.{sig}").verdict == "tampered"


def test_wrong_secret_is_tampered():
    quote_id, _ = QuoteSigner("other", "sf").sign(_claims())
    assert QuoteSigner("secret", "sf").verify(quote_id).verdict == "tampered"


def test_other_region_is_unknown():
    quote_id, _ = QuoteSigner("secret", "ny").sign(_claims(region="ny"))
    assert QuoteSigner("secret", "sf").verify(quote_id).verdict == "unknown"


@pytest.mark.parametrize("quote_id", ["", "abc", "q1.", "q1.abc", "q1.a.b.c", "q2.abc.def", "q1.!!.??",
                                      "q1.YWJj.YWJj", "q1." + "a" * 2000 + ".b", "q1.é.x"])
def test_malformed_is_unknown(quote_id):
    verified = QuoteSigner("secret", "sf").verify(quote_id)
    assert verified.verdict == "unknown" and verified.claims is None


def test_empty_secret_is_refused():
    with pytest.raises(ValueError):
        QuoteSigner("", "sf")

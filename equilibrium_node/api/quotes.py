"""Rider quotes over REST: estimate, look up, accept exactly once (CONTRACT.md, HTTP).

- ``POST /api/v1/pricing/estimate``: price and sign a trip. No await on NATS: the demand signal is
  queued for the background publisher, so a NATS outage never fails a quote.
- ``GET /api/v1/pricing/quotes/{quote_id}``: ``valid`` / ``expired`` / ``tampered`` / ``used`` /
  ``unknown``; any node of the region answers the same (signature + the shared accept ledger).
- ``POST /api/v1/pricing/quotes/{quote_id}/accept``: a KV ``create`` in the accept ledger makes the
  accept exactly-once across the region: 200 once, then 409 ``quote_used``; 410 when expired, 400 when
  tampered, 404 when not a quote id, 503 when NATS is unreachable (nothing can be promised then).
"""

from __future__ import annotations

import re
import time
from typing import Annotated, Literal

import msgspec
from aiohttp import web

from ..errors import ApiError, Code
from ..geo import cells
from ..messages import DemandSignal
from ..metrics import Metrics
from ..quotes.demand import DemandPublisher, accept_event_id, quote_event_id
from ..quotes.ledger import AcceptLedger, LedgerUnavailable
from ..quotes.quoter import Quoter, Trip, rfc3339_ms
from ..quotes.token import MAX_ID_CHARS, QuoteClaims, QuoteSigner
from .endpoint import ApiPart, BodyDecoder, Endpoint, Param, json_response
from .errors import ErrorBody

Latitude = Annotated[float, msgspec.Meta(ge=-90.0, le=90.0, description="Degrees, WGS 84.")]
Longitude = Annotated[float, msgspec.Meta(ge=-180.0, le=180.0, description="Degrees, WGS 84.")]
Id64 = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class Location(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A point given by a client."""

    latitude: Latitude
    longitude: Longitude


class EstimateRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Body of ``POST /api/v1/pricing/estimate``."""

    pickup_location: Location
    dropoff_location: Location
    vehicle_type: Annotated[str, msgspec.Meta(min_length=1, max_length=64, description="From the fare table.")]
    user_id: Id64


class ZoneInfo(msgspec.Struct, frozen=True):
    """Where the pickup is and how busy it is."""

    zone_id: str
    zone_name: str
    current_demand_level: Literal["low", "normal", "high", "very_high"]


class EstimateResponse(msgspec.Struct, frozen=True):
    """A signed quote (``final_fare = base_fare × surge_multiplier``, cents rounded half-up)."""

    quote_id: str
    base_fare: float
    surge_multiplier: float
    final_fare: float
    currency: str
    quote_valid_until: Annotated[str, msgspec.Meta(description="RFC 3339 UTC.")]
    estimated_duration: Annotated[float, msgspec.Meta(description="Minutes.")]
    estimated_distance: Annotated[float, msgspec.Meta(description="Kilometres.")]
    zone_info: ZoneInfo
    vehicle_type: str
    degraded: Annotated[bool, msgspec.Meta(description="True when the multiplier is stale (or the 1.0 fallback).")]


class QuoteTerms(msgspec.Struct, frozen=True):
    """The signed terms of a quote, as decoded from its id."""

    quote_id: str
    base_fare: float
    surge_multiplier: float
    final_fare: float
    currency: str
    vehicle_type: str
    pickup_cell: str
    dropoff_cell: str
    zone_id: str
    quote_valid_until: str
    estimated_duration: float
    estimated_distance: float
    user_id: str
    degraded: bool


class QuoteStatus(msgspec.Struct, frozen=True):
    """Body of ``GET /api/v1/pricing/quotes/{quote_id}``; ``quote`` is null when tampered or unknown."""

    valid: bool
    reason: Literal["expired", "tampered", "used", "unknown"] | None
    quote: QuoteTerms | None
    accepted_at: Annotated[str | None, msgspec.Meta(description="RFC 3339, when used.")] = None


class AcceptResponse(msgspec.Struct, frozen=True):
    """Body of a successful accept."""

    accepted: bool
    accepted_at: str
    node_id: str
    quote: QuoteTerms


_estimate_decoder = BodyDecoder(EstimateRequest)
_ID_RE = re.compile(f"^[A-Za-z0-9._-]{{1,{MAX_ID_CHARS}}}$")
_QUOTE_ID = Param("quote_id", "path", {"type": "string", "pattern": _ID_RE.pattern},
                  description="A quote id from POST /api/v1/pricing/estimate.")
_QUOTE_LINKS = {
    "status": {"operationId": "get_pricing_quotes_quote_id", "parameters": {"quote_id": "$response.body#/quote_id"},
               "description": "Check the quote."},
    "accept": {"operationId": "post_pricing_quotes_quote_id_accept",
               "parameters": {"quote_id": "$response.body#/quote_id"}, "description": "Accept the quote."},
}


def _quote_id(request: web.Request) -> str:
    """The path's quote id; 400 when it cannot be one (characters or length), before any verification."""
    quote_id = request.match_info["quote_id"]
    if not _ID_RE.match(quote_id):
        raise ApiError(f"quote_id must match {_ID_RE.pattern}", field="quote_id")
    return quote_id


def terms(quote_id: str, c: QuoteClaims) -> QuoteTerms:
    """The public view of signed claims."""
    return QuoteTerms(quote_id=quote_id, base_fare=c.base_cents / 100, surge_multiplier=c.multiplier,
                      final_fare=c.final_cents / 100, currency=c.currency, vehicle_type=c.vehicle_type,
                      pickup_cell=c.pickup_cell, dropoff_cell=c.dropoff_cell, zone_id=c.zone_id,
                      quote_valid_until=rfc3339_ms(c.expires_ms), estimated_duration=c.duration_min,
                      estimated_distance=c.distance_km, user_id=c.user_id, degraded=c.degraded)


class QuotesApi(ApiPart):
    """Estimate, quote status and accept."""

    def __init__(self, quoter: Quoter, signer: QuoteSigner, ledger: AcceptLedger, demand: DemandPublisher,
                 metrics: Metrics, node_id: str) -> None:
        self.quoter = quoter
        self.signer = signer
        self.ledger = ledger
        self.demand = demand
        self.node_id = node_id
        self._result = {name: metrics.quotes.labels(result=name) for name in (
            "issued", "issued_degraded", "rejected", "accepted", "used", "expired", "tampered", "unknown",
            "unavailable")}

    # POST /api/v1/pricing/estimate ---------------------------------------------------------------
    async def estimate(self, request: web.Request) -> web.Response:
        """Price a trip and sign the quote; the quote counts as a ``quote`` demand signal."""
        try:
            body = _estimate_decoder.decode(await request.read())
            p, d = body.pickup_location, body.dropoff_location
            now = time.time()
            q = self.quoter.quote(Trip(p.latitude, p.longitude, d.latitude, d.longitude, body.vehicle_type,
                                       body.user_id), now)
        except (ApiError, web.HTTPException):  # 4xx of ours, and aiohttp's 413 for a body over 64 KiB
            self._result["rejected"].inc()
            raise
        c = q.claims
        self.demand.offer(DemandSignal(event_id=quote_event_id(c.nonce), rider_id=body.user_id, lat=p.latitude,
                                       lng=p.longitude, kind="quote", vehicle_type=body.vehicle_type, ts=now))
        self._result["issued_degraded" if c.degraded else "issued"].inc()
        return json_response(EstimateResponse(
            quote_id=q.quote_id, base_fare=c.base_cents / 100, surge_multiplier=c.multiplier,
            final_fare=c.final_cents / 100, currency=c.currency, quote_valid_until=rfc3339_ms(c.expires_ms),
            estimated_duration=c.duration_min, estimated_distance=c.distance_km,
            zone_info=ZoneInfo(c.zone_id, q.zone_name, q.demand_level),  # type: ignore[arg-type]
            vehicle_type=c.vehicle_type, degraded=c.degraded))

    # GET /api/v1/pricing/quotes/{quote_id} --------------------------------------------------------
    async def status(self, request: web.Request) -> web.Response:
        """Whether a quote can still be accepted, and why not."""
        quote_id = _quote_id(request)
        verified = self.signer.verify(quote_id)
        if verified.claims is None:
            return json_response(QuoteStatus(valid=False, reason=verified.verdict, quote=None))  # type: ignore[arg-type]
        view = terms(quote_id, verified.claims)
        try:
            acceptance = await self.ledger.lookup(verified.key)
        except LedgerUnavailable as exc:
            raise ApiError(f"cannot check the quote ledger: {exc}", code=Code.UNAVAILABLE, status=503) from None
        if acceptance is not None:
            return json_response(QuoteStatus(valid=False, reason="used", quote=view,
                                             accepted_at=rfc3339_ms(int(acceptance.accepted_at * 1000))))
        if time.time() * 1000 >= verified.claims.expires_ms:
            return json_response(QuoteStatus(valid=False, reason="expired", quote=view))
        return json_response(QuoteStatus(valid=True, reason=None, quote=view))

    # POST /api/v1/pricing/quotes/{quote_id}/accept ------------------------------------------------
    async def accept(self, request: web.Request) -> web.Response:
        """Book at the quoted price, exactly once across the region; counts as a ``request`` demand signal."""
        quote_id = _quote_id(request)
        verified = self.signer.verify(quote_id)
        c = verified.claims
        if c is None:
            self._result[verified.verdict].inc()
            if verified.verdict == "tampered":
                raise ApiError("the quote id's signature does not match its terms", code=Code.QUOTE_TAMPERED,
                               field="quote_id", status=400)
            raise ApiError("not a quote id of this region", code=Code.QUOTE_UNKNOWN, field="quote_id", status=404)
        now = time.time()
        if now * 1000 >= c.expires_ms:
            self._result["expired"].inc()
            raise ApiError(f"the quote expired at {rfc3339_ms(c.expires_ms)}", code=Code.QUOTE_EXPIRED,
                           field="quote_id", status=410)
        try:
            acceptance = await self.ledger.accept(verified.key, c.user_id, now)
        except LedgerUnavailable as exc:
            self._result["unavailable"].inc()
            raise ApiError(f"cannot record the accept right now, retry: {exc}", code=Code.UNAVAILABLE,
                           status=503) from None
        if acceptance is None:
            self._result["used"].inc()
            raise ApiError("the quote has already been accepted", code=Code.QUOTE_USED, field="quote_id",
                           status=409)
        self._result["accepted"].inc()
        lat, lng = cells.center(c.pickup_cell)
        self.demand.offer(DemandSignal(event_id=accept_event_id(c.nonce), rider_id=c.user_id, lat=lat, lng=lng,
                                       kind="request", vehicle_type=c.vehicle_type, ts=now))
        return json_response(AcceptResponse(accepted=True, accepted_at=rfc3339_ms(int(now * 1000)),
                                            node_id=self.node_id, quote=terms(quote_id, c)))

    def endpoints(self) -> list[Endpoint]:
        """The quote endpoints."""
        unavailable = (ErrorBody, "NATS is unreachable: the ledger cannot be read or written (retry).")
        return [
            Endpoint("POST", "/api/v1/pricing/estimate", self.estimate, "Price a trip and sign a quote.",
                     tags=("quotes",), request=EstimateRequest, links={200: _QUOTE_LINKS},
                     responses={200: (EstimateResponse, "The quote."),
                                400: (ErrorBody, "Bad JSON, a wrong type, an out-of-range coordinate or an unknown "
                                                 "vehicle type; `error.field` names it.")}),
            Endpoint("GET", "/api/v1/pricing/quotes/{quote_id}", self.status, "Check a quote.", tags=("quotes",),
                     params=[_QUOTE_ID],
                     responses={200: (QuoteStatus, "Valid, or why not (expired, tampered, used, unknown)."),
                                503: unavailable}),
            Endpoint("POST", "/api/v1/pricing/quotes/{quote_id}/accept", self.accept,
                     "Accept a quote: exactly once across every node of the region.", tags=("quotes",),
                     params=[_QUOTE_ID],
                     responses={200: (AcceptResponse, "Accepted by this call."),
                                400: (ErrorBody, "Tampered quote id (`quote_tampered`)."),
                                404: (ErrorBody, "Not a quote id of this region (`quote_unknown`)."),
                                409: (ErrorBody, "Already accepted (`quote_used`)."),
                                410: (ErrorBody, "Expired (`quote_expired`)."),
                                503: unavailable}),
        ]


__all__ = ["EstimateRequest", "EstimateResponse", "Location", "QuoteStatus", "QuotesApi"]

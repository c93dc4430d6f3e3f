"""The admin API: zones, global rules and time-limited signals, live on every node of the region.

Every call needs ``Authorization: Bearer <admin token>`` (401 without, 403 with a wrong one, 401
``admin_disabled`` when the node has no token). Writes are validated (400 naming the field) and
written to KV ``eq_<region>_config`` by :meth:`ConfigStore.put`; every node applies them from its
watch within 2 s, no restart. A write answers once this node has applied it too (read-your-writes
on the node you wrote to; at most 2 s of waiting), and 503 when NATS cannot take it.

- ``GET /api/v1/admin/zones`` and ``GET/PUT /api/v1/admin/zones/{zone_id}``: the whole zone document
  (GET), replaced or created (PUT; 201 when new). The body's ``id`` must equal the path's.
- ``GET/PUT /api/v1/admin/rules``: the global rules document.
- ``GET/POST /api/v1/admin/signals``, ``DELETE /api/v1/admin/signals/{signal_id}``: weather / event
  factors for a zone, ``duration_s`` from now (KV key ``signal.<id>``; expired ones are ignored).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import time
from collections.abc import Callable
from typing import Annotated, Literal

import msgspec
from aiohttp import web

from ..errors import ApiError, Code
from ..live_config import RULES_KEY, SIGNAL_PREFIX, ZONE_PREFIX, ConfigSnapshot, ConfigStore, Signal
from ..logs import get_logger
from ..settings import Rules, ZoneConfig
from .auth import AdminAuth
from .endpoint import ApiPart, BodyDecoder, Endpoint, Param, json_response
from .errors import ErrorBody

log = get_logger(__name__)

ZONE_ID_RE = re.compile(r"^[a-z0-9_]{1,64}$")
SIGNAL_ID_RE = re.compile(r"^[a-z0-9_-]{1,64}$")
APPLY_WAIT_S = 2.0
MAX_SIGNAL_DURATION_S = 7 * 86_400.0

class SignalRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Body of ``POST /api/v1/admin/signals``."""

    zone_id: Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9_]{1,64}$", description="A zone of the region.")]
    kind: Literal["weather", "event"]
    factor: Annotated[float, msgspec.Meta(ge=0.5, le=3.0, description="Factor on the zone's multipliers.")]
    duration_s: Annotated[float, msgspec.Meta(gt=0, le=MAX_SIGNAL_DURATION_S, description="Active from now on.")]
    reason: Annotated[str, msgspec.Meta(max_length=200)] = ""
    id: Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9_-]{1,64}$",
                                    description="Signal id; default generated. Same id replaces.")] | None = None


class SignalList(msgspec.Struct, frozen=True):
    """Active signals."""

    signals: list[Signal]


class ZoneList(msgspec.Struct, frozen=True):
    """Every configured zone."""

    zones: list[ZoneConfig]


_zone_body = BodyDecoder(ZoneConfig)
_rules_body = BodyDecoder(Rules)
_signal_body = BodyDecoder(SignalRequest)


class AdminApi(ApiPart):
    """Live configuration over HTTP."""

    def __init__(self, store: ConfigStore, auth: AdminAuth, region: str) -> None:
        self.store = store
        self.auth = auth
        self.region = region
        self._changed = asyncio.Event()
        store.on_change(lambda _snap: self._changed.set())

    async def _until_applied(self, applied: Callable[[ConfigSnapshot], bool]) -> None:
        """Wait (at most 2 s) until this node's config satisfies ``applied``."""
        deadline = time.monotonic() + APPLY_WAIT_S
        while not applied(self.store.current):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                log.warning("admin_write_not_applied_yet", wait_s=APPLY_WAIT_S)
                return
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    # helpers --------------------------------------------------------------------------------------
    async def _put(self, key: str, doc: object, applied: Callable[[ConfigSnapshot], bool]) -> None:
        try:
            await self.store.put(key, doc)  # type: ignore[arg-type]
        except ApiError:
            raise
        except Exception as exc:  # NATS down or slow: nothing was promised
            log.warning("admin_write_failed", key=key, error=f"{type(exc).__name__}: {exc}")
            raise ApiError(f"cannot write the config now: {type(exc).__name__}", code=Code.UNAVAILABLE,
                           status=503) from None
        log.info("admin_write", key=key)
        await self._until_applied(applied)

    @staticmethod
    def _zone_id(request: web.Request) -> str:
        zone_id = request.match_info["zone_id"]
        if not ZONE_ID_RE.match(zone_id):
            raise ApiError("zone_id must match ^[a-z0-9_]{1,64}$", field="zone_id")
        return zone_id

    # zones -----------------------------------------------------------------------------------------
    async def list_zones(self, request: web.Request) -> web.Response:
        """Every configured zone."""
        self.auth.check(request)
        return json_response(ZoneList(zones=list(self.store.current.zones.values())))

    async def get_zone(self, request: web.Request) -> web.Response:
        """One zone's whole document."""
        self.auth.check(request)
        zone_id = self._zone_id(request)
        zone = self.store.current.zone(zone_id)
        if zone is None:
            raise ApiError(f"no zone {zone_id!r}", code=Code.UNKNOWN_ZONE, field="zone_id", status=404)
        return json_response(zone)

    async def put_zone(self, request: web.Request) -> web.Response:
        """Replace (or create) a zone."""
        self.auth.check(request)
        zone_id = self._zone_id(request)
        zone = await _zone_body.read(request)
        if zone.id != zone_id:
            raise ApiError(f"body id {zone.id!r} differs from the path's {zone_id!r}", field="id")
        created = self.store.current.zone(zone_id) is None
        await self._put(f"{ZONE_PREFIX}{zone_id}", zone, lambda snap: snap.zones.get(zone_id) == zone)
        return json_response(zone, status=201 if created else 200)

    # rules ----------------------------------------------------------------------------------------
    async def get_rules(self, request: web.Request) -> web.Response:
        """The global rules."""
        self.auth.check(request)
        return json_response(self.store.current.rules)

    async def put_rules(self, request: web.Request) -> web.Response:
        """Replace the global rules."""
        self.auth.check(request)
        rules = await _rules_body.read(request)
        await self._put(RULES_KEY, rules, lambda snap: snap.rules == rules)
        return json_response(rules)

    # signals --------------------------------------------------------------------------------------
    async def list_signals(self, request: web.Request) -> web.Response:
        """Signals that have not expired."""
        self.auth.check(request)
        now = time.time()
        active = sorted((s for s in self.store.current.signals.values() if s.active(now)), key=lambda s: s.id)
        return json_response(SignalList(signals=active))

    async def post_signal(self, request: web.Request) -> web.Response:
        """Start (or replace) a weather / event signal for a zone."""
        self.auth.check(request)
        body = await _signal_body.read(request)
        snap = self.store.current
        if body.zone_id not in snap.zones and body.zone_id != snap.zone_index.default_zone_id:
            raise ApiError(f"no zone {body.zone_id!r}", code=Code.UNKNOWN_ZONE, field="zone_id")
        now = time.time()
        signal_id = body.id or f"{body.kind}-{body.zone_id[:40]}-{secrets.token_hex(4)}"
        signal = Signal(id=signal_id, zone_id=body.zone_id, kind=body.kind, factor=body.factor, reason=body.reason,
                        created_at=round(now, 3), expires_at=round(now + body.duration_s, 3))
        await self._put(f"{SIGNAL_PREFIX}{signal_id}", signal, lambda s: s.signals.get(signal_id) == signal)
        return json_response(signal, status=201)

    async def delete_signal(self, request: web.Request) -> web.Response:
        """End a signal now."""
        self.auth.check(request)
        signal_id = request.match_info["signal_id"]
        if not SIGNAL_ID_RE.match(signal_id):
            raise ApiError("signal_id must match ^[a-z0-9_-]{1,64}$", field="signal_id")
        if signal_id not in self.store.current.signals:
            raise ApiError(f"no signal {signal_id!r}", code=Code.NOT_FOUND, field="signal_id", status=404)
        try:
            await self.store.delete(f"{SIGNAL_PREFIX}{signal_id}")
        except Exception as exc:
            raise ApiError(f"cannot write the config now: {type(exc).__name__}", code=Code.UNAVAILABLE,
                           status=503) from None
        await self._until_applied(lambda snap: signal_id not in snap.signals)
        return web.Response(status=204)

    def endpoints(self) -> list[Endpoint]:
        """The admin endpoints (all with the admin bearer token)."""
        zone_param = Param("zone_id", "path", {"type": "string", "pattern": r"^[a-z0-9_]{1,64}$"})
        signal_param = Param("signal_id", "path", {"type": "string", "pattern": r"^[a-z0-9_-]{1,64}$"})
        unavailable = (ErrorBody, "NATS cannot take the write now (nothing changed).")
        bad = (ErrorBody, "Invalid document; `error.field` names the offending field.")
        return [
            Endpoint("GET", "/api/v1/admin/zones", self.list_zones, "Every zone.", tags=("admin",), auth="admin",
                     responses={200: (ZoneList, "Zones.")}),
            Endpoint("GET", "/api/v1/admin/zones/{zone_id}", self.get_zone, "A zone's config.", tags=("admin",),
                     auth="admin", params=[zone_param],
                     responses={200: (ZoneConfig, "The zone."), 404: (ErrorBody, "No such zone (`unknown_zone`).")}),
            Endpoint("PUT", "/api/v1/admin/zones/{zone_id}", self.put_zone, "Replace or create a zone (live).",
                     tags=("admin",), auth="admin", params=[zone_param], request=ZoneConfig,
                     responses={200: (ZoneConfig, "Replaced."), 201: (ZoneConfig, "Created."), 400: bad,
                                503: unavailable}),
            Endpoint("GET", "/api/v1/admin/rules", self.get_rules, "The global rules.", tags=("admin",),
                     auth="admin", responses={200: (Rules, "Rules.")}),
            Endpoint("PUT", "/api/v1/admin/rules", self.put_rules, "Replace the global rules (live).",
                     tags=("admin",), auth="admin", request=Rules,
                     responses={200: (Rules, "Replaced."), 400: bad, 503: unavailable}),
            Endpoint("GET", "/api/v1/admin/signals", self.list_signals, "Active weather / event signals.",
                     tags=("admin",), auth="admin", responses={200: (SignalList, "Signals.")}),
            Endpoint("POST", "/api/v1/admin/signals", self.post_signal,
                     "Start a time-limited weather / event signal for a zone (live).", tags=("admin",), auth="admin",
                     request=SignalRequest,
                     responses={201: (Signal, "The stored signal."), 400: bad, 503: unavailable}),
            Endpoint("DELETE", "/api/v1/admin/signals/{signal_id}", self.delete_signal, "End a signal now.",
                     tags=("admin",), auth="admin", params=[signal_param],
                     responses={204: (None, "Ended."), 404: (ErrorBody, "No such signal."), 503: unavailable}),
        ]


__all__ = ["AdminApi", "SignalList", "SignalRequest", "ZoneList"]

"""Analytics (admin): zone efficiency over a window and a zone's history, from the node's rollup.

- ``GET /api/v1/analytics/zones?window=30d&order=inefficiency&limit=5[&vehicle_type=]``: per zone
  with any record in the window, the figures of :mod:`equilibrium_node.analytics.report`, ordered.
- ``GET /api/v1/analytics/zones/{zone_id}/history?from=&to=&step=[&vehicle_type=]``: the zone's
  time series for charts, one point per step.

Both answer from the rolled-up aggregates every node keeps (:class:`~equilibrium_node.analytics.rollup.ZoneRollup`,
fed by :class:`~equilibrium_node.analytics.tail.RollupTail`), never by reading a stream, and answer
503 ``not_ready`` while the node is still replaying the streams into it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import msgspec
from aiohttp import web

from ..analytics.durations import format_duration, parse_duration, parse_instant, rfc3339_s
from ..analytics.report import ORDERS, HistoryPoint, ZoneFigures, ordered, window_start, zone_history, zone_table
from ..analytics.rollup import DETAIL_BUCKET_S, HOUR_S
from ..analytics.tail import RollupTail
from ..errors import ApiError, Code
from ..live_config import ConfigSnapshot
from .admin import ZONE_ID_RE
from .auth import AdminAuth
from .endpoint import ApiPart, Endpoint, Param, json_response
from .errors import ErrorBody

DEFAULT_WINDOW = "30d"
DEFAULT_LIMIT = 20
MAX_LIMIT = 1000
MAX_POINTS = 2000
DEFAULT_HISTORY_S = 86_400
MAX_RANGE_S = 366 * 86_400
#: default steps, finest first: the first giving at most 500 points (and held at that resolution) is used
AUTO_STEPS_S = (300, 900, 3600, 3 * 3600, 6 * 3600, 86_400)
_DURATION_PATTERN = r"^[1-9][0-9]{0,5}[mhd]$"
_DURATION_RE = re.compile(_DURATION_PATTERN)


class ZoneTable(msgspec.Struct, frozen=True):
    """Body of ``GET /api/v1/analytics/zones``."""

    window: str
    order: str
    vehicle_type: str | None
    from_: str = msgspec.field(name="from")
    to: str = ""
    zones: list[ZoneFigures] = []
    total_zones: int = 0
    vehicle_types: list[str] = []


class ZoneHistory(msgspec.Struct, frozen=True):
    """Body of ``GET /api/v1/analytics/zones/{zone_id}/history``."""

    zone_id: str
    zone_name: str
    vehicle_type: str | None
    step: str
    from_: str = msgspec.field(name="from")
    to: str = ""
    points: list[HistoryPoint] = []


def _present(request: web.Request, name: str) -> str | None:
    """A query parameter as given (None when absent; an empty value is an error, not the default)."""
    if name not in request.query:
        return None
    raw = request.query[name]
    if raw == "":
        raise ApiError(f"{name} must not be empty", field=name)
    return raw


def zone_name(config: ConfigSnapshot, zone_id: str) -> str:
    """The configured name; the id itself for a zone that is no longer configured."""
    zone = config.zones.get(zone_id)
    if zone is not None:
        return zone.name
    return config.zone_index.zone_name(zone_id) if zone_id == config.zone_index.default_zone_id else zone_id


class AnalyticsApi(ApiPart):
    """The analytics endpoints."""

    def __init__(self, tail: RollupTail, auth: AdminAuth, config: Callable[[], ConfigSnapshot], *,
                 clock: Callable[[], float] = time.time) -> None:
        self.tail = tail
        self.rollup = tail.rollup
        self.auth = auth
        self.config = config
        self.clock = clock

    def _check_ready(self) -> None:
        if not self.tail.loaded.is_set():
            raise ApiError(f"the analytics history is still loading ({self.tail.progress()}); retry",
                           code=Code.NOT_READY, status=503)

    def _vehicle_type(self, request: web.Request, config: ConfigSnapshot) -> str | None:
        vt = _present(request, "vehicle_type")
        if vt is not None and vt not in config.vehicle_types:
            raise ApiError(f"unknown vehicle type {vt[:64]!r}; known: {', '.join(config.vehicle_types)}",
                           code=Code.UNKNOWN_VEHICLE_TYPE, field="vehicle_type")
        return vt

    @staticmethod
    def _duration(request: web.Request, name: str, default: str | None, lo_s: float, hi_s: float) -> int | None:
        raw = _present(request, name)
        if raw is None and default is None:
            return None
        try:
            return parse_duration(raw if raw is not None else default or "", lo_s=lo_s, hi_s=hi_s)
        except ValueError as exc:
            well_formed = raw is not None and _DURATION_RE.fullmatch(raw) is not None
            raise ApiError(f"{name}: {exc}", field=name,
                           code=Code.OUT_OF_RANGE if well_formed else Code.VALIDATION) from None

    # GET /api/v1/analytics/zones ------------------------------------------------------------------
    async def zones(self, request: web.Request) -> web.Response:
        """Zone efficiency over a window."""
        self.auth.check(request)
        config = self.config()
        window_s = self._duration(request, "window", DEFAULT_WINDOW, HOUR_S, MAX_RANGE_S)
        assert window_s is not None
        order = _present(request, "order") or "inefficiency"
        if order not in ORDERS:
            raise ApiError(f"order must be one of {', '.join(ORDERS)}; got {order[:40]!r}", field="order")
        raw_limit = _present(request, "limit")
        try:
            limit = DEFAULT_LIMIT if raw_limit is None else int(raw_limit)
        except ValueError:
            raise ApiError(f"limit must be an integer, got {raw_limit[:40]!r}", field="limit") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise ApiError(f"limit must be within [1, {MAX_LIMIT}], got {limit}", field="limit",
                           code=Code.OUT_OF_RANGE)
        vehicle_type = self._vehicle_type(request, config)
        self._check_ready()
        now = self.clock()
        since = window_start(now, window_s)
        rows = ordered(zone_table(self.rollup, since, now, vehicle_type=vehicle_type,
                                  zone_name=lambda zone_id: zone_name(config, zone_id)), order)
        return json_response(ZoneTable(window=format_duration(window_s), order=order, vehicle_type=vehicle_type,
                                       from_=rfc3339_s(since), to=rfc3339_s(now), zones=rows[:limit],
                                       total_zones=len(rows), vehicle_types=list(config.vehicle_types)))

    # GET /api/v1/analytics/zones/{zone_id}/history --------------------------------------------------
    def _instant(self, request: web.Request, name: str, default: float) -> float:
        raw = _present(request, name)
        if raw is None:
            return default
        try:
            return parse_instant(raw)
        except ValueError as exc:
            raise ApiError(f"{name}: {exc}", field=name) from None

    def _step(self, request: web.Request, start: float, end: float, now: float) -> int:
        detail_from = now - (self.rollup.detail.capacity - 1) * DETAIL_BUCKET_S
        step = self._duration(request, "step", None, DETAIL_BUCKET_S, 30 * 86_400)
        if step is None:
            for candidate in AUTO_STEPS_S:
                if (end - start) / candidate <= 500 and (candidate % HOUR_S == 0 or start >= detail_from):
                    return candidate
            return AUTO_STEPS_S[-1]
        if step % DETAIL_BUCKET_S:
            raise ApiError("step must be a multiple of 5 minutes (5m, 15m, 1h, 1d, ...)", field="step",
                           code=Code.OUT_OF_RANGE)
        if step % HOUR_S and start < detail_from:
            raise ApiError(f"steps shorter than whole hours are kept for the last "
                           f"{format_duration(now - detail_from)}; use a step of whole hours (1h, 6h, 1d) "
                           "or a later from", field="step", code=Code.OUT_OF_RANGE)
        if (end - start) / step > MAX_POINTS:
            raise ApiError(f"more than {MAX_POINTS} points: use a larger step or a shorter range", field="step",
                           code=Code.OUT_OF_RANGE)
        return step

    async def history(self, request: web.Request) -> web.Response:
        """A zone's time series."""
        self.auth.check(request)
        zone_id = request.match_info["zone_id"]
        if not ZONE_ID_RE.fullmatch(zone_id):
            raise ApiError("zone_id must match ^[a-z0-9_]{1,64}$", field="zone_id")
        config = self.config()
        now = self.clock()
        end = self._instant(request, "to", now)
        start = self._instant(request, "from", end - DEFAULT_HISTORY_S)
        if start >= end:
            raise ApiError("from must be before to", field="from", code=Code.OUT_OF_RANGE)
        if end - start > MAX_RANGE_S:
            raise ApiError("the range from..to may span at most 366 days", field="from", code=Code.OUT_OF_RANGE)
        vehicle_type = self._vehicle_type(request, config)
        step = self._step(request, start, end, now)
        self._check_ready()
        if zone_id not in config.zones and zone_id != config.zone_index.default_zone_id \
                and not self.rollup.rows(zone_id):
            raise ApiError(f"no zone {zone_id!r} in the config or the history", code=Code.UNKNOWN_ZONE,
                           field="zone_id", status=404)
        points = zone_history(self.rollup, zone_id, start, end, step, vehicle_type=vehicle_type)
        return json_response(ZoneHistory(zone_id=zone_id, zone_name=zone_name(config, zone_id),
                                         vehicle_type=vehicle_type, step=format_duration(step),
                                         from_=rfc3339_s(start), to=rfc3339_s(end), points=points))

    def endpoints(self) -> list[Endpoint]:
        """The analytics endpoints."""
        vt = Param("vehicle_type", "query", {"type": "string", "minLength": 1, "maxLength": 64},
                   description="Only this vehicle type (default: all together).")
        not_ready = (ErrorBody, "The node is still loading the history from the streams (`not_ready`); retry.")
        return [
            Endpoint("GET", "/api/v1/analytics/zones", self.zones, "Zone efficiency over a window.",
                     tags=("analytics",), auth="admin", params=(
                         Param("window", "query", {"type": "string", "pattern": _DURATION_PATTERN, "default": "30d"},
                               description="How far back: <n>h or <n>d (1h to 366d; m accepted if whole hours); "
                                           "from the start of that hour to now."),
                         Param("order", "query", {"type": "string", "enum": list(ORDERS), "default": "inefficiency"},
                               description="Sort: worst first for inefficiency, multipliers, events, quotes "
                                           "(descending) and conversion (ascending); zone_id ascending."),
                         Param("limit", "query", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                                                  "default": DEFAULT_LIMIT}, description="Most zones returned."),
                         vt),
                     responses={200: (ZoneTable, "Zones with any record in the window, ordered; `total_zones` "
                                                 "counts them all."),
                                400: (ErrorBody, "Bad window, order, limit or vehicle type; `error.field` names it."),
                                503: not_ready}),
            Endpoint("GET", "/api/v1/analytics/zones/{zone_id}/history", self.history,
                     "A zone's history for charts.", tags=("analytics",), auth="admin", params=(
                         Param("zone_id", "path", {"type": "string", "pattern": r"^[a-z0-9_]{1,64}$"}, required=True),
                         Param("from", "query", {"type": "string", "minLength": 1},
                               description="Start: epoch seconds or RFC 3339 (default: `to` minus 24 h)."),
                         Param("to", "query", {"type": "string", "minLength": 1},
                               description="End: epoch seconds or RFC 3339 (default: now)."),
                         Param("step", "query", {"type": "string", "pattern": _DURATION_PATTERN},
                               description="Point spacing, a multiple of 5 minutes; steps of whole hours reach "
                                           "back over the whole retention, shorter ones over the detail span "
                                           "(`snapshot.detail_span_s`). Default: the finest giving <= 500 points."),
                         vt),
                     responses={200: (ZoneHistory, "One point per step (`ts` = start of the step)."),
                                400: (ErrorBody, "Bad from, to, step or vehicle type; `error.field` names it."),
                                404: (ErrorBody, "The zone is neither configured nor in the history "
                                                 "(`unknown_zone`)."),
                                503: not_ready}),
        ]


__all__ = ["AnalyticsApi", "ZoneHistory", "ZoneTable"]

"""Declaring endpoints once: route, handler, request and response types, parameters and errors.

The same :class:`Endpoint` list registers the aiohttp routes and generates the OpenAPI document, so
the document covers every endpoint by construction. Bodies are decoded by msgspec decoders built
once per type; a decode error becomes a 400 naming the field (``pickup_location.latitude``).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import msgspec
from aiohttp import web

from ..errors import ApiError, Code

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
T = TypeVar("T")

_encoder = msgspec.json.Encoder()
_PATH_RE = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_UNKNOWN_FIELD_RE = re.compile(r"unknown field `(?P<name>[^`]*)`")


@dataclass(frozen=True)
class Param:
    """A query or path parameter, for the OpenAPI document."""

    name: str
    where: str  # "query" | "path" | "header"
    schema: dict[str, Any]
    required: bool = False
    description: str = ""


@dataclass(frozen=True)
class Endpoint:
    """One HTTP operation.

    ``responses`` maps a status to ``(type or None, description)``; errors use ``ErrorBody``.
    ``route`` is the metrics label (defaults to the path template). ``links`` maps a status to OpenAPI
    link objects (how a response's values feed other operations, e.g. a quote id into accept).
    """

    method: str
    path: str
    handler: Handler
    summary: str
    tags: tuple[str, ...] = ()
    request: type | None = None
    responses: dict[int, tuple[Any, str]] = field(default_factory=dict)
    params: Sequence[Param] = ()
    auth: str | None = None  # "admin" | "app" | None
    content_type: str = "application/json"
    route: str = ""
    streaming: bool = False
    links: dict[int, dict[str, Any]] = field(default_factory=dict)


class ApiPart:
    """A group of endpoints with the dependencies they need (subclasses implement :meth:`endpoints`)."""

    def endpoints(self) -> list[Endpoint]:
        """The endpoints this part serves."""
        raise NotImplementedError


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """Encode a Struct/dict/list with msgspec into a JSON response."""
    return web.Response(status=status, body=_encoder.encode(obj), content_type="application/json",
                        headers=headers)


def _split(message: str) -> tuple[str, str | None]:
    match = _PATH_RE.search(message)
    if not match:
        return message, None
    path = match.group("path").lstrip(".")
    return message[: match.start()], path or None


def validation_error(exc: msgspec.ValidationError | msgspec.DecodeError) -> ApiError:
    """A 400 naming the field msgspec complained about."""
    message, path = _split(str(exc))
    if isinstance(exc, msgspec.ValidationError):
        unknown = _UNKNOWN_FIELD_RE.search(message)
        if unknown:  # name the unexpected field itself, not the object holding it
            path = f"{path}.{unknown.group('name')}" if path else unknown.group("name")
        return ApiError(message, code=Code.VALIDATION, field=path, status=400)
    return ApiError(f"malformed JSON: {message}", code=Code.BAD_JSON, field=None, status=400)


class BodyDecoder(Generic[T]):
    """Decodes a request body into ``type_`` (decoder built once)."""

    def __init__(self, type_: type[T]) -> None:
        self.type = type_
        self._decoder = msgspec.json.Decoder(type_)

    def decode(self, raw: bytes) -> T:
        """Decode or raise a 400 :class:`ApiError` naming the field."""
        if not raw:
            raise ApiError("request body is empty; expected JSON", code=Code.BAD_JSON, status=400)
        try:
            return self._decoder.decode(raw)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise validation_error(exc) from None

    async def read(self, request: web.Request) -> T:
        """Read (bounded by the app's client_max_size) and decode the request body."""
        return self.decode(await request.read())


def query_float(request: web.Request, name: str, *, required: bool = True, default: float | None = None,
                lo: float | None = None, hi: float | None = None) -> float:
    """A finite float query parameter within [lo, hi], or a 400 naming it."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        if required:
            raise ApiError(f"query parameter {name} is required", field=name)
        assert default is not None
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ApiError(f"{name} must be a number, got {raw[:40]!r}", field=name) from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ApiError(f"{name} must be finite", field=name, code=Code.OUT_OF_RANGE)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ApiError(f"{name} must be within [{lo}, {hi}], got {value}", field=name, code=Code.OUT_OF_RANGE)
    return value


def query_int(request: web.Request, name: str, *, default: int | None = None, lo: int | None = None,
              hi: int | None = None) -> int:
    """An integer query parameter within [lo, hi], or a 400 naming it."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        if default is None:
            raise ApiError(f"query parameter {name} is required", field=name)
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(f"{name} must be an integer, got {raw[:40]!r}", field=name) from None
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ApiError(f"{name} must be within [{lo}, {hi}], got {value}", field=name, code=Code.OUT_OF_RANGE)
    return value


def parse_bounds(raw: str | None, field_name: str = "bounds") -> tuple[float, float, float, float]:
    """``lat1,lng1,lat2,lng2`` into (min_lat, min_lng, max_lat, max_lng); 400 on anything else.

    Corners must be given south-west first (lat1 <= lat2, lng1 <= lng2): an inverted box is an error,
    not silently swapped, because it usually means the client sent lng,lat.
    """
    if not raw:
        raise ApiError(f"{field_name} is required as lat1,lng1,lat2,lng2", field=field_name)
    parts = raw.split(",")
    if len(parts) != 4:
        raise ApiError(f"{field_name} must be four numbers lat1,lng1,lat2,lng2", field=field_name)
    try:
        lat1, lng1, lat2, lng2 = (float(p) for p in parts)
    except ValueError:
        raise ApiError(f"{field_name} must be four numbers lat1,lng1,lat2,lng2", field=field_name) from None
    return check_bounds(lat1, lng1, lat2, lng2, field_name)


def check_bounds(lat1: float, lng1: float, lat2: float, lng2: float,
                 field_name: str = "bounds") -> tuple[float, float, float, float]:
    """Validate a south-west/north-east box."""
    values = (lat1, lng1, lat2, lng2)
    if any(v != v or v in (float("inf"), float("-inf")) for v in values):
        raise ApiError(f"{field_name} must be finite numbers", field=field_name, code=Code.OUT_OF_RANGE)
    if not (-90 <= lat1 <= 90 and -90 <= lat2 <= 90 and -180 <= lng1 <= 180 and -180 <= lng2 <= 180):
        raise ApiError(f"{field_name} is out of range (lat in [-90, 90], lng in [-180, 180])", field=field_name,
                       code=Code.OUT_OF_RANGE)
    if lat1 > lat2 or lng1 > lng2:
        raise ApiError(f"{field_name} is inverted: expected south-west corner first (lat1<=lat2, lng1<=lng2)",
                       field=field_name, code=Code.OUT_OF_RANGE)
    return lat1, lng1, lat2, lng2
